# Volunteer.Meta declares the index of candidate selection, which alerts migration 0005 built
# (CONCURRENTLY, with btree_gist). Here the migration state learns of it; the database already
# has it, the same as Django would build it from Meta, so nothing runs there.

from django.db import migrations, models

import volunteers.models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0005_volunteer_dispatchable_fresh_location_index"),
        ("volunteers", "0007_volunteer_is_adult_in_local_date"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AddIndex(
                    model_name="volunteer",
                    index=volunteers.models.LongNameGistIndex(
                        condition=models.Q(
                            ("is_heart_runner", True),
                            ("is_available", True),
                            ("phone_verified_at__isnull", False),
                            ("location__isnull", False),
                        ),
                        fields=["location", "location_updated_at"],
                        name="volunteer_dispatchable_fresh_loc_idx",
                    ),
                ),
            ],
        ),
    ]
