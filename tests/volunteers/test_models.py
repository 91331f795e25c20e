"""The registry's rules hold in the database itself, not only in forms."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from defibrillators.models import Defibrillator
from tests.factories import DefibrillatorFactory, UserFactory, VolunteerFactory
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db


def _years_ago(years: int, days: int = 0) -> dt.date:
    today = timezone.localdate()
    return today.replace(year=today.year - years) - dt.timedelta(days=days)


def test_a_volunteer_who_turned_18_today_is_accepted():
    volunteer = VolunteerFactory(date_of_birth=_years_ago(18))
    assert Volunteer.objects.filter(pk=volunteer.pk).exists()


def test_the_database_refuses_a_minor():
    with pytest.raises(IntegrityError, match="volunteer_is_adult"), transaction.atomic():
        VolunteerFactory(date_of_birth=_years_ago(18, days=-1))


def test_model_validation_names_the_age_rule():
    volunteer = VolunteerFactory.build(user=UserFactory(), date_of_birth=_years_ago(17))
    with pytest.raises(ValidationError) as error:
        volunteer.full_clean()
    assert "18" in str(error.value)


def test_danish_numbers_without_prefix_are_stored_in_e164():
    volunteer = VolunteerFactory(phone="20 12 34 56")
    volunteer.refresh_from_db()
    assert str(volunteer.phone) == "+4520123456"


def test_an_invalid_phone_number_is_refused_by_validation_naming_the_field():
    volunteer = VolunteerFactory.build(user=UserFactory(), phone="12")
    with pytest.raises(ValidationError) as error:
        volunteer.full_clean()
    assert "phone" in error.value.message_dict


def test_the_database_refuses_a_phone_number_not_in_e164():
    volunteer = VolunteerFactory()
    with (
        pytest.raises(IntegrityError, match="volunteer_phone_e164"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # Past the ORM, which would normalise the number itself.
        cursor.execute(
            "UPDATE volunteers_volunteer SET phone = '20123456' WHERE id = %s", [volunteer.pk]
        )


def test_a_phone_number_belongs_to_one_volunteer():
    VolunteerFactory(phone="+4520000001")
    with pytest.raises(IntegrityError), transaction.atomic():
        VolunteerFactory(phone="+4520000001")


def test_one_volunteer_per_user():
    volunteer = VolunteerFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        VolunteerFactory(user=volunteer.user)


def test_a_volunteer_belongs_to_at_least_one_scheme():
    with pytest.raises(IntegrityError, match="volunteer_has_a_scheme"), transaction.atomic():
        VolunteerFactory(is_heart_runner=False, local_area=None)


def test_a_location_always_carries_its_time():
    with pytest.raises(IntegrityError, match="volunteer_location_has_time"), transaction.atomic():
        VolunteerFactory(location_updated_at=None)


def test_an_aed_source_id_is_unique_per_source():
    DefibrillatorFactory(source=Defibrillator.Source.OSM, source_id="node/1")
    DefibrillatorFactory(source=Defibrillator.Source.CSV, source_id="node/1")
    with (
        pytest.raises(IntegrityError, match="defibrillator_unique_source_id"),
        transaction.atomic(),
    ):
        DefibrillatorFactory(source=Defibrillator.Source.OSM, source_id="node/1")


def test_only_synthetic_sources_may_be_marked_synthetic():
    with pytest.raises(IntegrityError, match="synthetic"), transaction.atomic():
        DefibrillatorFactory(source=Defibrillator.Source.OSM, synthetic=True)
