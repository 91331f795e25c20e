# Candidate selection walks volunteer_dispatchable_fresh_loc_idx (alerts migration 0005) now.
# The older partial index on location alone served nothing but still cost every location
# UPDATE a GiST insertion, so it goes, after its successor exists and without a table lock.

from django.db import migrations

INDEX = "volunteer_dispatchable_loc_idx"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("alerts", "0005_volunteer_dispatchable_fresh_location_index"),
        ("volunteers", "0005_volunteer_location_received_at"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}",
            reverse_sql=f"""
                CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON volunteers_volunteer
                USING gist (location)
                WHERE is_heart_runner AND is_available AND phone_verified_at IS NOT NULL
                  AND location IS NOT NULL
            """,
            state_operations=[
                migrations.RemoveIndex(model_name="volunteer", name=INDEX),
            ],
        ),
    ]
