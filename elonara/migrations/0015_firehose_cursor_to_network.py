# The firehose cursor now belongs to network (its 0004 took the model over, table and rows kept):
# removed from elonara's state only, the table stays.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('elonara', '0014_announcement'),
        ('network', '0004_firehose_cursor_from_elonara'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='FirehoseCursor')],
            database_operations=[],
        ),
    ]
