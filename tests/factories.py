"""factory_boy factories with realistic Danish data."""

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point
from django.utils import timezone

from amk.models import Incident, Municipality
from defibrillators.models import Defibrillator
from volunteers.models import Device, Volunteer

# Aarhus C, by the cathedral: a point well inside Region Midtjylland.
AARHUS_C = (10.2108, 56.1567)


def point(lon: float, lat: float) -> Point:
    return Point(lon, lat, srid=4326)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    first_name = factory.Faker("first_name", locale="da_DK")
    last_name = factory.Faker("last_name", locale="da_DK")
    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.dk")
    password = factory.django.Password("correct horse battery staple")


class DispatcherFactory(UserFactory):
    """A user of AMK's console: member of the dispatchers' group."""

    @factory.post_generation
    def dispatcher_group(self, create, extracted, **kwargs):
        if create:
            from django.contrib.auth.models import Group

            from amk.access import DISPATCHERS_GROUP

            self.groups.add(Group.objects.get_or_create(name=DISPATCHERS_GROUP)[0])


class VolunteerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Volunteer

    user = factory.SubFactory(UserFactory)
    is_heart_runner = True
    phone = factory.Sequence(lambda n: f"+4520{n:06d}")
    phone_verified_at = factory.LazyFunction(timezone.now)
    date_of_birth = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=365 * 35))
    first_aid_course_on = factory.LazyFunction(
        lambda: timezone.localdate() - dt.timedelta(days=200)
    )
    is_available = True
    location = factory.LazyFunction(lambda: point(*AARHUS_C))
    location_updated_at = factory.LazyFunction(timezone.now)
    location_accuracy_m = 15


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    volunteer = factory.SubFactory(VolunteerFactory)
    push_token = factory.Sequence(lambda n: f"fcm-token-{n:08d}")
    platform = Device.Platform.ANDROID
    last_seen_at = factory.LazyFunction(timezone.now)


class DefibrillatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Defibrillator

    location = factory.LazyFunction(lambda: point(*AARHUS_C))
    name = factory.Sequence(lambda n: f"Hjertestarter {n}")
    address = "Store Torv 1, 8000 Aarhus C"
    placement = "Ved hovedindgangen"
    indoor = False
    access = Defibrillator.Access.PUBLIC
    opening_hours = "24/7"
    cabinet_code = "1234"
    source = Defibrillator.Source.MANUAL
    source_id = factory.Sequence(lambda n: f"manual-{n}")


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    location = factory.LazyFunction(lambda: point(*AARHUS_C))
    address = "Store Torv 1, 8000 Aarhus C"
    municipality = factory.LazyFunction(lambda: Municipality.objects.get(code="0751"))
    created_by = factory.SubFactory(UserFactory)


# --- Appended for the dispatch tests (tests/alerts) ---------------------------------------------


def square_around(lon: float, lat: float, half_side_deg: float = 0.01):
    """A small square MultiPolygon centred on a point (about 1.1 km north-south per 0.01°)."""
    from django.contrib.gis.geos import MultiPolygon, Polygon

    d = half_side_deg
    ring = ((lon - d, lat - d), (lon + d, lat - d), (lon + d, lat + d), (lon - d, lat + d))
    return MultiPolygon(Polygon((*ring, ring[0]), srid=4326), srid=4326)


class LocalAreaFactory(factory.django.DjangoModelFactory):
    """A 1-1-2 førstehjælper local area: by default a small square around Aarhus C."""

    class Meta:
        model = "volunteers.LocalArea"

    name = factory.Sequence(lambda n: f"Lokalområde {n}")
    municipality = factory.LazyFunction(lambda: Municipality.objects.get(code="0751"))
    area = factory.LazyFunction(lambda: square_around(*AARHUS_C))
    village_point = factory.LazyFunction(lambda: point(*AARHUS_C))


class DispatchPolicyFactory(factory.django.DjangoModelFactory):
    """The active dispatch policy; only one may be active at a time, so the one active before
    (the migration's "Standard", or an earlier test's) steps down."""

    class Meta:
        model = "alerts.DispatchPolicy"

    name = factory.Sequence(lambda n: f"Politik {n}")
    is_active = True
    # Escalation is what many tests exercise: three waves, as the migration's "Standard" has
    # (the model's default became one wave after the policy simulator, docs/simulation.md).
    max_waves = 3

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        if kwargs.get("is_active", True):
            model_class.objects.filter(is_active=True).update(is_active=False)
        return super()._create(model_class, *args, **kwargs)


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "alerts.Alert"

    incident = factory.SubFactory(IncidentFactory)
    volunteer = factory.SubFactory(VolunteerFactory)
    pool = "app"
    wave = 1
    distance_m = 800


class AlertDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "alerts.AlertDelivery"

    alert = factory.SubFactory(AlertFactory)
    channel = "sms"
    kind = "alert"


def responder_on_scene(incident, location: Point | None = None):
    """A responder already doing CPR at the patient: the next acceptor may then fetch an AED
    (alerts.services.roles: the first to reach the patient never fetches)."""
    from django.utils import timezone

    from alerts.models import Alert

    return AlertFactory(
        incident=incident,
        volunteer=VolunteerFactory(location=location or incident.location),
        state=Alert.State.ON_SCENE,
        role=Alert.Role.CPR,
        answered_at=timezone.now(),
    )
