from django.db import migrations, models

LANGUAGES = [("en", "English"), ("ja", "日本語"), ("pt-br", "Português (Brasil)"), ("de", "Deutsch"),
             ("es", "Español")]


class Migration(migrations.Migration):

    dependencies = [
        ("elonara", "0016_host_message_reply"),
    ]

    operations = [
        migrations.AddField(
            model_name="event",
            name="language",
            field=models.CharField(choices=LANGUAGES, default="en", max_length=10),
        ),
        migrations.AddField(
            model_name="eventseries",
            name="language",
            field=models.CharField(choices=LANGUAGES, default="en", max_length=10),
        ),
    ]
