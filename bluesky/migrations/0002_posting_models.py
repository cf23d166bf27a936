"""The posting models of the former `bluesky_agents` app join the `bluesky` app, data kept.

On a database made before this change the five tables exist as `bluesky_agents_*`: they are
renamed (no row is copied, so encrypted values, ids and foreign keys stay as they were), and
their content types move with them so staff permissions and admin history follow. On a new
database the tables are created. Either way the state is the same afterwards.
"""

import bluesky.crypto
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

ADOPTED = ["apppasswordsession", "relayaccount", "memberapppassword", "writesmodechange", "writesmodesetting"]


def adopt_or_create_tables(apps, schema_editor):
    existing = set(schema_editor.connection.introspection.table_names())
    for name in ADOPTED:
        model = apps.get_model("bluesky", name)
        old_table = f"bluesky_agents_{name}"
        if old_table in existing:
            schema_editor.alter_db_table(model, old_table, model._meta.db_table)
        else:
            schema_editor.create_model(model)
    ContentType = apps.get_model("contenttypes", "ContentType")
    for name in ADOPTED:
        if not ContentType.objects.filter(app_label="bluesky", model=name).exists():
            ContentType.objects.filter(app_label="bluesky_agents", model=name).update(app_label="bluesky")


def give_tables_back(apps, schema_editor):
    for name in ADOPTED:
        model = apps.get_model("bluesky", name)
        schema_editor.alter_db_table(model, model._meta.db_table, f"bluesky_agents_{name}")
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="bluesky", model__in=ADOPTED).update(app_label="bluesky_agents")


class Migration(migrations.Migration):

    dependencies = [
        ("bluesky", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
                migrations.CreateModel(
                    name='AppPasswordSession',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('account_key', models.CharField(max_length=300, unique=True)),
                        ('identifier', models.CharField(max_length=253)),
                        ('credential_fingerprint', models.CharField(blank=True, max_length=64)),
                        ('did', models.CharField(blank=True, max_length=2048)),
                        ('handle', models.CharField(blank=True, max_length=253)),
                        ('pds_url', models.CharField(blank=True, max_length=2048)),
                        ('access_jwt', bluesky.crypto.EncryptedTextField(blank=True)),
                        ('refresh_jwt', bluesky.crypto.EncryptedTextField(blank=True)),
                        ('access_expires_at', models.DateTimeField(blank=True, null=True)),
                        ('refresh_expires_at', models.DateTimeField(blank=True, null=True)),
                        ('session_created_at', models.DateTimeField(blank=True, null=True)),
                        ('refreshed_at', models.DateTimeField(blank=True, null=True)),
                        ('create_count', models.PositiveIntegerField(default=0)),
                        ('refresh_count', models.PositiveIntegerField(default=0)),
                        ('last_error', models.CharField(blank=True, max_length=300)),
                        ('locked_at', models.DateTimeField(blank=True, null=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                    ],
                ),
                migrations.CreateModel(
                    name='RelayAccount',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('identifier', models.CharField(blank=True, help_text='Handle or DID of the relay account.', max_length=253)),
                        ('app_password', bluesky.crypto.EncryptedTextField(blank=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'verbose_name': 'relay account',
                        'verbose_name_plural': 'relay account',
                    },
                ),
                migrations.CreateModel(
                    name='MemberAppPassword',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('identifier', models.CharField(help_text='Handle or DID', max_length=253)),
                        ('did', models.CharField(blank=True, max_length=2048)),
                        ('handle', models.CharField(blank=True, max_length=253)),
                        ('app_password', bluesky.crypto.EncryptedTextField()),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('member', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='bluesky_app_password', to=settings.AUTH_USER_MODEL)),
                    ],
                ),
                migrations.CreateModel(
                    name='WritesModeChange',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('changed_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('changed_by_username', models.CharField(blank=True, max_length=150)),
                        ('from_mode', models.CharField(choices=[('legacy', 'Legacy (app password)'), ('oauth', "OAuth (member's own session)")], max_length=16)),
                        ('to_mode', models.CharField(choices=[('legacy', 'Legacy (app password)'), ('oauth', "OAuth (member's own session)")], max_length=16)),
                        ('changed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'ordering': ['-changed_at', '-pk'],
                    },
                ),
                migrations.CreateModel(
                    name='WritesModeSetting',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('mode', models.CharField(choices=[('legacy', 'Legacy (app password)'), ('oauth', "OAuth (member's own session)")], default='legacy', max_length=16)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('updated_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'writes mode',
                        'verbose_name_plural': 'writes mode',
                    },
                ),
        ]),
        migrations.RunPython(adopt_or_create_tables, give_tables_back),
        # The agents' own lock column: IMMEDIATE transactions (SQLite) and row locks do its job.
        migrations.RemoveField(model_name="apppasswordsession", name="locked_at"),
    ]
