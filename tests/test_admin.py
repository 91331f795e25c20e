"""The Django admin, the about page and the health check, against real PostGIS and Redis."""

import datetime as dt
import json
from pathlib import Path

import factory
import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, OutboxMessage
from amk.models import Incident, Municipality, Place, Postcode, Region
from defibrillators.models import Defibrillator
from tests.factories import (
    AARHUS_C,
    AlertDeliveryFactory,
    AlertFactory,
    DefibrillatorFactory,
    DeviceFactory,
    IncidentFactory,
    UserFactory,
    VolunteerFactory,
    point,
)
from volunteers.models import Device, LocalArea, PhoneCode, Volunteer

pytestmark = pytest.mark.django_db

CABINET_CODE = "Kode-8642"
OUTLINES = Path(__file__).resolve().parent.parent / "config" / "static" / "geo" / "kommuner.geojson"


def square(lon: float, lat: float, half: float = 0.05) -> MultiPolygon:
    ring = (
        (lon - half, lat - half),
        (lon + half, lat - half),
        (lon + half, lat + half),
        (lon - half, lat + half),
        (lon - half, lat - half),
    )
    return MultiPolygon(Polygon(ring), srid=4326)


class LocalAreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LocalArea
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Lokalområde {n}")
    municipality = factory.LazyFunction(lambda: Municipality.objects.get(code="0751"))
    area = factory.LazyFunction(lambda: square(*AARHUS_C, half=0.02))
    village_point = factory.LazyFunction(lambda: point(*AARHUS_C))


@pytest.fixture
def territory():
    """A small stand-in for the DAGI data: Region Midtjylland, Aarhus, 8000 and a place."""
    region, _ = Region.objects.get_or_create(
        code="1082", defaults={"name": "Region Midtjylland", "area": square(*AARHUS_C, half=1)}
    )
    aarhus, _ = Municipality.objects.get_or_create(
        code="0751",
        defaults={"name": "Aarhus", "region": region, "area": square(*AARHUS_C, half=0.2)},
    )
    postcode, _ = Postcode.objects.get_or_create(
        number="8000", defaults={"name": "Aarhus C", "area": square(*AARHUS_C, half=0.03)}
    )
    place, _ = Place.objects.get_or_create(
        name="Aarhus", point=point(*AARHUS_C), defaults={"municipality": aarhus}
    )
    return {"region": region, "municipality": aarhus, "postcode": postcode, "place": place}


@pytest.fixture
def data(territory):
    area = LocalAreaFactory(name="Fur")
    aed = DefibrillatorFactory(name="Hjertestarter Rådhuset", cabinet_code=CABINET_CODE)
    area.local_aeds.add(aed)
    volunteer = VolunteerFactory(local_area=area)
    device = DeviceFactory(volunteer=volunteer)
    incident = IncidentFactory()
    return {
        **territory,
        "local_area": area,
        "defibrillator": aed,
        "volunteer": volunteer,
        "device": device,
        "incident": incident,
    }


@pytest.fixture
def superuser_client(client):
    user = UserFactory(username="admin-test", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


ADMINS = [
    (Region, "region"),
    (Municipality, "municipality"),
    (Postcode, "postcode"),
    (Place, "place"),
    (Incident, "incident"),
    (LocalArea, "local_area"),
    (Volunteer, "volunteer"),
    (Device, "device"),
    (Defibrillator, "defibrillator"),
]


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_admin_index_lists_every_model(superuser_client, data):
    response = superuser_client.get(reverse("admin:index"))
    assert response.status_code == 200
    for model, _key in ADMINS:
        assert admin_url(model, "changelist") in response.content.decode()


@pytest.mark.parametrize(("model", "key"), ADMINS, ids=[m.__name__ for m, _ in ADMINS])
def test_changelist_and_change_form_load(superuser_client, data, model, key):
    obj = data[key]
    assert superuser_client.get(admin_url(model, "changelist")).status_code == 200
    # Filtered to the object, which may not be on the first page beside real reference data.
    response = superuser_client.get(
        admin_url(model, "changelist"), {f"{model._meta.pk.name}__exact": obj.pk}
    )
    assert response.status_code == 200
    assert admin_url(model, "change", obj.pk) in response.content.decode()

    response = superuser_client.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("model", "params"),
    [
        (Volunteer, {"scheme": "both", "location": "live", "phone_verified": "yes"}),
        (Volunteer, {"scheme": "corps_only", "location": "none", "is_available__exact": "0"}),
        (Volunteer, {"location": "stale", "synthetic__exact": "1"}),
        (Defibrillator, {"access__exact": "public", "indoor": "no", "expiry": "expired"}),
        (Defibrillator, {"status__exact": "active", "expiry": "soon", "source__exact": "manual"}),
        (Municipality, {"region__code__exact": "1082"}),
        (Place, {"region": "1082"}),
        (Incident, {"state__exact": "pending_dispatch", "region": "1082"}),
        (LocalArea, {"location_is_approximate__exact": "0"}),
        (Device, {"platform__exact": "android", "is_active__exact": "1"}),
    ],
)
def test_changelist_filters(superuser_client, data, model, params):
    response = superuser_client.get(admin_url(model, "changelist"), params)
    assert response.status_code == 200  # an unknown filter would redirect with ?e=1


@pytest.mark.parametrize("model", [Region, Municipality, Postcode, Place, LocalArea, Volunteer])
def test_add_forms_load(superuser_client, territory, model):
    response = superuser_client.get(admin_url(model, "add"))
    assert response.status_code == 200
    assert "leaflet" in response.content.decode()


def test_map_widgets_include_offline_outlines(superuser_client, data):
    html = superuser_client.get(admin_url(Defibrillator, "change", data["defibrillator"].pk))
    html = html.content.decode()
    assert "leaflet/leaflet.js" in html
    assert "hjertealarm/map_outlines.js" in html
    assert 'data-outlines="/static/geo/kommuner.geojson"' in html


def test_outline_file_is_small_and_complete():
    assert OUTLINES.stat().st_size < 500 * 1024
    collection = json.loads(OUTLINES.read_text(encoding="utf-8"))
    codes = {f["properties"]["code"] for f in collection["features"]}
    assert len(codes) == 99
    assert {"0751", "0741", "0665"} <= codes
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in collection["features"])
    assert "Styrelsen for Dataforsyning" in collection["attribution"]


def test_incident_admin_is_view_only(superuser_client, data):
    incident = data["incident"]
    response = superuser_client.get(admin_url(Incident, "change", incident.pk))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="_save"' not in html
    assert "leaflet/leaflet.js" in html  # the location is shown on a map
    assert superuser_client.get(admin_url(Incident, "add")).status_code == 403
    response = superuser_client.post(admin_url(Incident, "change", incident.pk), {"note": "x"})
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.note == ""


def test_defibrillator_cabinet_code_only_on_change_form(superuser_client, data):
    aed = data["defibrillator"]
    changelist = superuser_client.get(admin_url(Defibrillator, "changelist")).content.decode()
    assert aed.name in changelist
    assert CABINET_CODE not in changelist
    # Searching by the code must not find the AED either.
    searched = superuser_client.get(admin_url(Defibrillator, "changelist"), {"q": CABINET_CODE})
    assert aed.name not in searched.content.decode()

    change_form = superuser_client.get(admin_url(Defibrillator, "change", aed.pk)).content.decode()
    assert CABINET_CODE in change_form


def test_volunteer_list_shows_freshness_not_coordinates(superuser_client, data):
    html = superuser_client.get(admin_url(Volunteer, "changelist")).content.decode()
    assert "freshness-live" in html
    assert f"{AARHUS_C[0]}" not in html
    assert f"{AARHUS_C[1]}" not in html


def test_volunteer_search_by_local_phone_number(superuser_client, data):
    volunteer = data["volunteer"]
    other = VolunteerFactory()
    national = str(volunteer.phone).removeprefix("+45")
    spaced = " ".join(national[i : i + 2] for i in range(0, 8, 2))
    response = superuser_client.get(admin_url(Volunteer, "changelist"), {"q": spaced})
    html = response.content.decode()
    assert admin_url(Volunteer, "change", volunteer.pk) in html
    assert admin_url(Volunteer, "change", other.pk) not in html


def test_autocomplete_does_not_need_polygons(superuser_client, data):
    response = superuser_client.get(
        reverse("admin:autocomplete"),
        {
            "term": "Aar",
            "app_label": "volunteers",
            "model_name": "localarea",
            "field_name": "municipality",
        },
    )
    assert response.status_code == 200
    assert response.json()["results"][0]["text"] == "Aarhus"


def _volunteer_with_traces(n: int) -> tuple[Volunteer, Alert]:
    """A volunteer whose number, name and push token are also in the alerts' tables and a code."""
    phone = f"+452099{n:04d}"
    volunteer = VolunteerFactory(phone=phone, user__first_name=f"Erasable{n}")
    token = DeviceFactory(volunteer=volunteer).push_token
    alert = AlertFactory(volunteer=volunteer, volunteer_location=point(*AARHUS_C))
    AlertDeliveryFactory(alert=alert, state="failed", last_error=f"Invalid 'To' number {phone}")
    for recipient in (phone, token):
        OutboxMessage.objects.create(
            channel="sms", recipient=recipient, body="Hjertestop", provider_message_id=recipient
        )
    PhoneCode.objects.create(
        phone=phone, code_hash="x", expires_at=timezone.now() + dt.timedelta(minutes=5)
    )
    return volunteer, alert


def _admin():
    return get_user_model().objects.get(username="admin-test")


def _assert_erased(volunteer: Volunteer, alert: Alert, erased_by=None) -> None:
    """What volunteers.services.accounts.volunteer_delete leaves: the alert, without a trace,
    and (by an administrator) one log entry saying who erased which account number."""
    assert not Volunteer.objects.filter(pk=volunteer.pk).exists()
    assert not get_user_model().objects.filter(pk=volunteer.user_id).exists()
    assert not Device.objects.filter(volunteer_id=volunteer.pk).exists()
    assert not PhoneCode.objects.filter(phone=str(volunteer.phone)).exists()
    assert not OutboxMessage.objects.filter(recipient__contains=str(volunteer.phone)).exists()
    assert not OutboxMessage.objects.filter(recipient__startswith="fcm-token-").exists()
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Volunteer), object_id=str(volunteer.pk)
    )
    if erased_by is None:
        assert not entries.exists()
    else:
        entry = entries.get()
        assert (entry.user, entry.action_flag) == (erased_by, DELETION)
        assert (entry.object_repr, entry.change_message) == (f"#{volunteer.pk}", "Konto slettet")
    assert not LogEntry.objects.filter(object_repr__contains=volunteer.user.first_name).exists()
    alert.refresh_from_db()
    assert alert.volunteer_id is None
    assert alert.volunteer_location is None
    assert list(alert.deliveries.values_list("last_error", flat=True)) == [""]


def test_deleting_a_volunteer_in_the_admin_erases_the_account(superuser_client, data):
    volunteer, alert = _volunteer_with_traces(1)
    url = admin_url(Volunteer, "delete", volunteer.pk)
    assert superuser_client.get(url).status_code == 200  # the confirmation page

    response = superuser_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    _assert_erased(volunteer, alert, erased_by=_admin())
    assert Volunteer.objects.filter(pk=data["volunteer"].pk).exists()


def test_the_delete_action_in_the_admin_erases_each_account(superuser_client, data):
    erased = [_volunteer_with_traces(n) for n in (1, 2)]
    selected = {"action": "delete_selected", "_selected_action": [v.pk for v, _a in erased]}
    changelist = admin_url(Volunteer, "changelist")
    assert superuser_client.post(changelist, selected).status_code == 200  # the confirmation

    response = superuser_client.post(changelist, {**selected, "post": "yes"})

    assert response.status_code == 302
    for volunteer, alert in erased:
        _assert_erased(volunteer, alert, erased_by=_admin())
    assert Volunteer.objects.filter(pk=data["volunteer"].pk).exists()


def test_deleting_the_user_of_a_volunteer_in_the_admin_erases_the_account(superuser_client, data):
    volunteer, alert = _volunteer_with_traces(1)
    url = admin_url(type(volunteer.user), "delete", volunteer.user.pk)

    response = superuser_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    _assert_erased(volunteer, alert, erased_by=_admin())


def test_bulk_deleting_users_erases_volunteers_and_deletes_other_users(superuser_client, data):
    volunteer, alert = _volunteer_with_traces(1)
    staff = UserFactory(username="former-dispatcher")
    selected = {
        "action": "delete_selected",
        "_selected_action": [volunteer.user.pk, staff.pk],
        "post": "yes",
    }

    response = superuser_client.post(admin_url(type(staff), "changelist"), selected)

    assert response.status_code == 302
    _assert_erased(volunteer, alert, erased_by=_admin())
    assert not type(staff).objects.filter(pk=staff.pk).exists()


def test_non_staff_user_is_redirected_to_login(client, data):
    client.force_login(UserFactory(username="citizen", is_staff=False))
    for model, _key in ADMINS:
        response = client.get(admin_url(model, "changelist"))
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))


def test_anonymous_user_is_redirected_to_login(client):
    response = client.get(admin_url(Volunteer, "changelist"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def _changelist_queries(client, model):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_volunteer_changelist_query_count_is_constant(
    superuser_client, territory, django_assert_max_num_queries
):
    area = LocalAreaFactory(name="Lem")
    VolunteerFactory.create_batch(3)
    VolunteerFactory.create_batch(2, local_area=area)
    few = _changelist_queries(superuser_client, Volunteer)

    VolunteerFactory.create_batch(25)
    VolunteerFactory.create_batch(20, local_area=area, is_heart_runner=False)
    assert Volunteer.objects.count() == 50
    with django_assert_max_num_queries(few):
        response = superuser_client.get(admin_url(Volunteer, "changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("model", [Device, Defibrillator, Incident, LocalArea, Place])
def test_other_changelists_query_count_is_constant(
    superuser_client, territory, django_assert_max_num_queries, model
):
    def make(n):
        if model is Device:
            DeviceFactory.create_batch(n)
        elif model is Defibrillator:
            DefibrillatorFactory.create_batch(n)
        elif model is Incident:
            IncidentFactory.create_batch(n)
        elif model is LocalArea:
            for _ in range(n):
                area = LocalAreaFactory()
                area.local_aeds.add(DefibrillatorFactory())
                VolunteerFactory(local_area=area)
        else:
            for i in range(Place.objects.count(), Place.objects.count() + n):
                Place.objects.create(
                    name=f"By {i}",
                    point=point(9.5 + i / 100, 56.2),
                    municipality=territory["municipality"],
                )

    make(3)
    few = _changelist_queries(superuser_client, model)
    make(30)
    with django_assert_max_num_queries(few):
        superuser_client.get(admin_url(model, "changelist"))


def test_volunteer_changelist_uses_row_estimate_for_big_tables(superuser_client, data):
    from volunteers.admin import EstimatedCountPaginator

    class Tiny(EstimatedCountPaginator):
        exact_below = 0

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE volunteers_volunteer")
    paginator = Tiny(Volunteer.objects.order_by("pk"), 10)
    assert paginator.count >= 0  # the estimate, no COUNT(*)
    filtered = Tiny(Volunteer.objects.filter(is_available=True).order_by("pk"), 10)
    assert filtered.count == 1  # filtered querysets are counted exactly


def test_about_page_lists_attributions(client):
    response = client.get(reverse("about"))
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Styrelsen for Dataforsyning",
        "DAGI 1:500.000, februar 2014",
        "quattroshapes",
        "Includes data from foursquare quattroshapes",
        "Danmarks Statistik",
        "Kilde: Danmarks Statistik – statistikbanken.dk/BY3",
    ):
        assert text in html, text
    assert '<html lang="da">' in html
    assert "Om data" in html


def test_about_page_in_english(client, settings):
    # English as the user's choice (the language cookie), not the browser's (config.language).
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(reverse("about"), HTTP_ACCEPT_LANGUAGE="da")
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "About the data" in html
    assert "Includes data from foursquare quattroshapes" in html


def test_admin_footer_and_header(superuser_client):
    html = superuser_client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("about")}"' in html
    assert "Hjertealarm – administration" in html
    # The login page too (the console's, where the admin's sends), for people not logged in yet.
    superuser_client.logout()
    html = superuser_client.get(reverse("admin:login"), follow=True).content.decode()
    assert f'href="{reverse("about")}"' in html
