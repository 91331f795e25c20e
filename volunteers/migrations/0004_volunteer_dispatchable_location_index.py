# The partial GiST index of candidate selection (alerts.selectors). Written as SQL: the PostGIS
# schema editor builds spatial indexes itself and would drop the WHERE clause of a GistIndex.

import django.contrib.postgres.indexes
from django.db import migrations, models

INDEX = "volunteer_dispatchable_loc_idx"


class Migration(migrations.Migration):
    dependencies = [
        ("volunteers", "0003_device_auth_token"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f"""
                CREATE INDEX IF NOT EXISTS {INDEX} ON volunteers_volunteer USING gist (location)
                WHERE is_heart_runner AND is_available AND phone_verified_at IS NOT NULL
                  AND location IS NOT NULL
            """,
            reverse_sql=f"DROP INDEX IF EXISTS {INDEX}",
            state_operations=[
                migrations.AddIndex(
                    model_name="volunteer",
                    index=django.contrib.postgres.indexes.GistIndex(
                        condition=models.Q(
                            ("is_available", True),
                            ("is_heart_runner", True),
                            ("location__isnull", False),
                            ("phone_verified_at__isnull", False),
                        ),
                        fields=["location"],
                        name=INDEX,
                    ),
                ),
            ],
        ),
    ]
