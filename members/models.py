from django.contrib.auth.models import AbstractUser
from django.db import models


class Member(AbstractUser):
    """A person with an Elonara account. Custom from the first migration so it can grow."""

    display_name = models.CharField(max_length=100, blank=True)
    bio = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def name(self) -> str:
        return self.display_name or self.username
