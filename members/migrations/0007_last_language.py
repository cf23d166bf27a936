from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("members", "0006_bluesky_profile"),
    ]

    operations = [
        migrations.AddField(
            model_name="member",
            name="last_language",
            field=models.CharField(default="en", editable=False, max_length=10),
        ),
    ]
