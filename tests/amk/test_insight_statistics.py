"""Activation statistics (amk.insight.statistics) on a fixture of known incidents, the page and
its CSV (amk.console.insight_views), and the ambulance's arrival recorded on closing."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from alerts.models import AedUse, Alert, AlertDelivery
from amk.insight.statistics import (
    NO_VOLUNTEERS,
    NOT_DISPATCHED,
    StatisticsFilter,
    activation_statistics,
)
from amk.models import Incident, IncidentEvent, Municipality
from tests.factories import (
    AARHUS_C,
    AlertFactory,
    DefibrillatorFactory,
    DispatcherFactory,
    IncidentFactory,
    LocalAreaFactory,
    VolunteerFactory,
    point,
)

pytestmark = pytest.mark.usefixtures("reference_geography")

SILKEBORG = (9.5450, 56.1697)


def _day_start(days_ago: int) -> dt.datetime:
    today = timezone.localdate()
    return timezone.make_aware(
        dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(10, 0))
    )


def _incident(t0, *, by, municipality="0751", where=AARHUS_C, **fields):
    incident = IncidentFactory(
        created_by=by,
        municipality=Municipality.objects.get(code=municipality),
        location=point(*where),
        **fields,
    )
    Incident.objects.filter(pk=incident.pk).update(created_at=t0)
    incident.refresh_from_db()
    return incident


def _alert(incident, *, sent_after_s, accepted_after_s=None, on_scene_after_s=None, **fields):
    t0 = incident.created_at
    alert = AlertFactory(incident=incident, **fields)
    delivery = AlertDelivery.objects.create(alert=alert, channel="sms", kind="alert")
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        state="sent", sent_at=t0 + dt.timedelta(seconds=sent_after_s)
    )
    for kind, after in (("alert_accepted", accepted_after_s), ("alert_on_scene", on_scene_after_s)):
        if after is not None:
            event = IncidentEvent.objects.create(
                incident=incident, alert=alert, kind=kind, message=kind
            )
            IncidentEvent.objects.filter(pk=event.pk).update(
                created_at=t0 + dt.timedelta(seconds=after)
            )
    return alert


@pytest.fixture
def known_incidents(reference_geography):
    """Five incidents with known figures (times in seconds after creation):

    A Aarhus, by d1, day 0: alerts sent at 20 and 30; the first accepted at 80, on scene at 300;
      the second fetched an AED (collected 350, on scene 400); EMS at 480.
    B Aarhus, by d1, day 1: one alert sent at 40, nobody accepted; EMS at 600.
    C Silkeborg, by d2, day 0: not activated by the dispatcher (trauma).
    D Silkeborg, by d2, day 0: dispatched, nobody in range.
    E Aarhus, by d1, day 0: one alert sent at 60, accepted at 60, on scene at 700; EMS at 500.
    """
    d1, d2 = DispatcherFactory(username="dorte"), DispatcherFactory(username="dennis")
    area = LocalAreaFactory(name="Aarhus Midtby")
    day0, day1 = _day_start(3), _day_start(2)
    a = _incident(day0, by=d1, ems_arrived_at=day0 + dt.timedelta(seconds=480))
    _alert(a, sent_after_s=20, accepted_after_s=80, on_scene_after_s=300)
    aed = DefibrillatorFactory()
    fetcher = _alert(
        a, sent_after_s=30, accepted_after_s=90, on_scene_after_s=400, role="aed", aed=aed
    )
    AedUse.objects.create(
        aed=aed, alert=fetcher, taken_at=day0, collected_at=day0 + dt.timedelta(seconds=350)
    )
    b = _incident(day1, by=d1, ems_arrived_at=day1 + dt.timedelta(seconds=600))
    _alert(b, sent_after_s=40)
    _incident(day0, by=d2, municipality="0740", where=SILKEBORG, exclusion_reasons=["trauma"])
    _incident(day0, by=d2, municipality="0740", where=SILKEBORG, dispatch_wave=1)
    e = _incident(day0, by=d1, ems_arrived_at=day0 + dt.timedelta(seconds=500))
    _alert(e, sent_after_s=60, accepted_after_s=60, on_scene_after_s=700)
    return {"d1": d1, "d2": d2, "area": area, "day0": day0}


def test_totals_on_known_incidents(known_incidents):
    (total,) = activation_statistics(filters=StatisticsFilter(), group_by="total")
    assert (total.incidents, total.activated) == (5, 3)
    assert total.not_activated["trauma"] == 1
    assert total.not_activated[NO_VOLUNTEERS] == 1
    assert total.not_activated[NOT_DISPATCHED] == 0
    assert sum(total.not_activated.values()) == total.incidents - total.activated
    # Created → first alert: 20, 40, 60 s; percentile_cont: median 40, p90 40 + 0.8 × 20.
    assert total.first_alert_median_s == pytest.approx(40)
    assert total.first_alert_p90_s == pytest.approx(56)
    # 4 alerts, 3 accepted (A twice, E once); first alert → first acceptance: 60 (A), 0 (E).
    assert (total.alerts, total.accepted) == (4, 3)
    assert total.acceptance_rate == pytest.approx(0.75)
    assert total.first_accept_median_s == pytest.approx(30)
    # EMS recorded for A, B, E; a volunteer and an AED before it only at A.
    assert (total.ems_recorded, total.volunteer_before_ems, total.aed_before_ems) == (3, 1, 1)
    assert total.volunteer_before_ems_share == pytest.approx(1 / 3)


def test_groupings_and_filters(known_incidents):
    by_municipality = {
        r.group: r
        for r in activation_statistics(filters=StatisticsFilter(), group_by="municipality")
    }
    assert set(by_municipality) == {"Aarhus", "Silkeborg"}
    assert (by_municipality["Aarhus"].incidents, by_municipality["Aarhus"].activated) == (3, 3)
    silkeborg = by_municipality["Silkeborg"]
    assert (silkeborg.incidents, silkeborg.activated, silkeborg.activated_share) == (2, 0, 0.0)
    assert silkeborg.first_alert_median_s is None

    by_dispatcher = {
        r.group: r.incidents
        for r in activation_statistics(filters=StatisticsFilter(), group_by="dispatcher")
    }
    assert by_dispatcher == {"dorte": 3, "dennis": 2}

    by_area = {
        r.group: r.incidents
        for r in activation_statistics(filters=StatisticsFilter(), group_by="local_area")
    }
    assert by_area == {"Aarhus Midtby": 3, "Uden for lokalområderne": 2}

    days = activation_statistics(filters=StatisticsFilter(), group_by="day")
    assert [r.incidents for r in days] == [4, 1]
    assert {
        r.group for r in activation_statistics(filters=StatisticsFilter(), group_by="centre")
    } == {"AMK Midtjylland"}

    day0 = timezone.localdate(known_incidents["day0"])
    only_day0 = StatisticsFilter(date_from=day0, date_to=day0)
    assert activation_statistics(filters=only_day0, group_by="total")[0].incidents == 4
    by_d2 = StatisticsFilter(dispatcher_id=known_incidents["d2"].pk)
    assert activation_statistics(filters=by_d2, group_by="total")[0].incidents == 2
    in_area = StatisticsFilter(local_area_id=known_incidents["area"].pk)
    assert activation_statistics(filters=in_area, group_by="total")[0].activated == 3
    in_silkeborg = StatisticsFilter(municipality_code="0740")
    assert activation_statistics(filters=in_silkeborg, group_by="total")[0].incidents == 2


@pytest.fixture
def manager(db):
    user = DispatcherFactory(username="leder")
    user.user_permissions.add(Permission.objects.get(codename="view_statistics"))
    return user


def test_page_and_csv_need_the_permission(client, known_incidents, manager):
    client.force_login(known_incidents["d1"])  # a dispatcher, without the permission
    for name in ("amk:statistics", "amk:statistics_csv", "amk:coverage", "amk:coverage_csv"):
        assert client.get(reverse(name)).status_code == 403
    client.logout()
    names = ("statistics", "statistics_csv", "coverage", "coverage_csv", "coverage_json")
    for name in names:
        assert client.get(reverse(f"amk:{name}")).status_code == 302  # to the login page
    client.force_login(VolunteerFactory().user)  # a volunteer: not even the map layer
    for name in names:
        assert client.get(reverse(f"amk:{name}")).status_code == 403
    client.force_login(manager)
    for name in names:
        assert client.get(reverse(f"amk:{name}")).status_code == 200
    assert client.post(reverse("amk:statistics")).status_code == 405


def test_page_shows_the_table_and_charts(client, known_incidents, manager):
    client.force_login(manager)
    response = client.get(reverse("amk:statistics"), {"group_by": "municipality"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<svg") == 2  # drawn on the server, no external resource in them
    svg = html.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert "href" not in svg
    assert "url(" not in svg
    row = html.split('data-group="Silkeborg"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num" data-col="incidents">2</td>' in row
    assert '<td class="num" data-col="reason-trauma">1</td>' in row
    assert '<td class="num" data-col="reason-no_volunteers">1</td>' in row
    aarhus = html.split('data-group="Aarhus"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num" data-col="first_alert_median">0:40</td>' in aarhus
    assert "75,0 %" in aarhus  # acceptance rate


def test_csv_has_one_row_per_group_and_no_names(client, known_incidents, manager):
    client.force_login(manager)
    response = client.get(reverse("amk:statistics_csv"), {"group_by": "dispatcher"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_group = {r["dispatcher"]: r for r in rows}
    d1, d2 = known_incidents["d1"], known_incidents["d2"]
    assert set(by_group) == {f"dispatcher-{d1.pk}", f"dispatcher-{d2.pk}"}
    assert by_group[f"dispatcher-{d1.pk}"]["incidents"] == "3"
    assert by_group[f"dispatcher-{d1.pk}"]["volunteer_before_ems"] == "1"
    assert by_group[f"dispatcher-{d2.pk}"]["not_activated_trauma"] == "1"
    assert "dorte" not in response.content.decode()


def test_bad_filters_are_400_naming_the_field(client, known_incidents, manager):
    client.force_login(manager)
    response = client.get(reverse("amk:statistics_csv"), {"date_from": "2026-13-40"})
    assert response.status_code == 400
    assert "date_from" in response.content.decode()
    response = client.get(
        reverse("amk:statistics_csv"), {"date_from": "2026-05-02", "date_to": "2026-05-01"}
    )
    assert response.status_code == 400
    assert "date_to" in response.content.decode()
    response = client.get(reverse("amk:statistics"), {"group_by": "nonsense"})
    assert response.status_code == 400


def test_closing_records_the_ambulance_arrival(client):
    dispatcher = DispatcherFactory(username="disp")
    client.force_login(dispatcher)
    incident = IncidentFactory(created_by=dispatcher)
    created = timezone.now() - dt.timedelta(minutes=30)
    Incident.objects.filter(pk=incident.pk).update(created_at=created)
    future = timezone.localtime(timezone.now() + dt.timedelta(minutes=20)).strftime("%H:%M")
    if timezone.localtime(timezone.now() + dt.timedelta(minutes=20)).date() != timezone.localdate():
        pytest.skip("around midnight a time of day 20 minutes ahead is tomorrow's")
    url = reverse("amk:incident_close", args=[incident.pk])
    response = client.post(url, {"ems_arrived_at": future}, follow=True)
    assert any("fremtiden" in str(m) for m in response.context["messages"])
    incident.refresh_from_db()
    assert incident.state != Incident.State.CLOSED
    assert incident.ems_arrived_at is None

    response = client.post(url, {"ems_arrived_at": "kl. fem"}, follow=True)
    assert any("14:32" in str(m) for m in response.context["messages"])

    arrived = timezone.localtime(created + dt.timedelta(minutes=9))
    client.post(url, {"ems_arrived_at": arrived.strftime("%H:%M")})
    incident.refresh_from_db()
    assert incident.state == Incident.State.CLOSED
    assert incident.ems_arrived_at == arrived.replace(second=0, microsecond=0)
    assert Alert.objects.filter(incident=incident).count() == 0


def test_a_dispatch_that_finds_nobody_records_why(db, django_capture_on_commit_callbacks):
    """Waves mode: the policy's last wave finds nobody, so the timeline says why (once), and
    the statistics count it as "no volunteer in range"."""
    from alerts.services import waves
    from tests.factories import DispatchPolicyFactory

    DispatchPolicyFactory(mode="waves", radius_m=1000, radius_step_m=1000, max_radius_m=3000)
    incident = IncidentFactory(location=point(*SILKEBORG))
    not_activated = incident.events.filter(kind=IncidentEvent.Kind.NOT_ACTIVATED)
    with django_capture_on_commit_callbacks(execute=False):
        waves.incident_dispatch(incident_id=incident.pk)
        assert not not_activated.exists()  # wave 1 of 3: still looking
        waves.incident_escalate(incident_id=incident.pk, after_wave=1)
        assert not not_activated.exists()
        waves.incident_escalate(incident_id=incident.pk, after_wave=2)
        (event,) = not_activated
        assert event.message == "Frivillige ikke aktiveret: ingen ledige inden for 3,0 km"
        dispatcher = DispatcherFactory(username="disp")
        waves.incident_escalate(incident_id=incident.pk, actor=dispatcher)  # an extra wave
    assert not_activated.count() == 1
    (total,) = activation_statistics(filters=StatisticsFilter(), group_by="total")
    assert (total.activated, total.not_activated[NO_VOLUNTEERS]) == (0, 1)


def test_a_cad_call_time_starts_the_clock(known_incidents):
    # A's call reached the centre 45 s before the incident was created: created → first alert
    # becomes 65, 40, 60 s (median 60) instead of 20, 40, 60 s (median 40).
    a = Incident.objects.filter(ems_arrived_at__isnull=False).order_by("pk").first()
    Incident.objects.filter(pk=a.pk).update(called_at=a.created_at - dt.timedelta(seconds=45))
    (total,) = activation_statistics(filters=StatisticsFilter(), group_by="total")
    assert total.first_alert_median_s == pytest.approx(60)
