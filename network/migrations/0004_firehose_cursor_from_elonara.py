# The firehose cursor moves from elonara to network with its table and rows: only Django's idea
# of which app owns the model changes (elonara 0015 drops it from elonara's state after this).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('network', '0003_reports_hidden'),
        ('elonara', '0014_announcement'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='FirehoseCursor',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name='ID')),
                        ('source', models.CharField(max_length=400, unique=True)),
                        ('seq', models.BigIntegerField(default=0)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('outdated_at', models.DateTimeField(blank=True, null=True)),
                        ('last_error', models.CharField(blank=True, max_length=300)),
                    ],
                    options={'db_table': 'elonara_firehosecursor'},
                ),
            ],
            database_operations=[],
        ),
    ]
