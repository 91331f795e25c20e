# The adulthood check compares with the date in Denmark (see AdultBirthdateLimit); the
# constraint's expression changed without a change Django can detect, so it is rebuilt here.

from django.db import migrations, models

import volunteers.models


class Migration(migrations.Migration):
    dependencies = [
        ("volunteers", "0006_drop_volunteer_dispatchable_location_index"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="volunteer", name="volunteer_is_adult"),
        migrations.AddConstraint(
            model_name="volunteer",
            constraint=models.CheckConstraint(
                condition=models.Q(("date_of_birth__lte", volunteers.models.AdultBirthdateLimit())),
                name="volunteer_is_adult",
                violation_error_message="Volunteers must be at least 18 years old.",
            ),
        ),
    ]
