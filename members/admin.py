from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from members.forms import AdminLoginForm
from members.models import Member


@admin.register(Member)
class MemberAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Profile", {"fields": ("display_name", "bio")}))
    list_display = ["username", "display_name", "email", "is_staff", "date_joined"]
    search_fields = ["username", "display_name", "email"]


# The admin's password login counts failed attempts like the site's (members.forms).
admin.site.login_form = AdminLoginForm
