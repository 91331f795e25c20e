"""Who may be dispatched: the policy's vetting (approval, course age, position-jump flags) in
candidate selection for both pools, the administrators' approval, the app's own status, and
the incident's copy of the policy."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import Alert, DispatchPolicy
from alerts.selectors.selection import dispatch_candidates
from amk.services import incidents as amk_services
from tests.factories import (
    AARHUS_C,
    DispatchPolicyFactory,
    IncidentFactory,
    LocalAreaFactory,
    UserFactory,
    VolunteerFactory,
    point,
)
from volunteers.models import Volunteer
from volunteers.services.accounts import auth_token_create, volunteer_update

pytestmark = pytest.mark.usefixtures("reference_geography")


def chosen(policy: DispatchPolicy) -> dict[int, str]:
    incident = IncidentFactory()
    return {
        c.volunteer_id: c.pool
        for c in dispatch_candidates(
            incident_id=incident.pk,
            point=incident.location,
            policy=policy,
            radius_m=policy.radius_m,
            include_corps=True,
        )
    }


def test_the_vetting_applies_to_the_corps_and_the_app_pool_alike(db):
    area = LocalAreaFactory()
    today = timezone.localdate()
    approved = VolunteerFactory()
    unapproved = VolunteerFactory(approved_at=None)
    corps_unapproved = VolunteerFactory(approved_at=None, local_area=area, is_heart_runner=False)
    corps_old_course = VolunteerFactory(
        local_area=area, is_heart_runner=False, first_aid_course_on=today - dt.timedelta(400)
    )
    app_no_course = VolunteerFactory(first_aid_course_on=None)
    jumpy = VolunteerFactory()
    Volunteer.objects.filter(pk=jumpy.pk).update(location_jumps=3)

    everyone = chosen(DispatchPolicy(require_approval=False, exclude_after_location_jumps=None))
    vetted = chosen(
        DispatchPolicy(
            require_approval=True, require_course_within_days=365, exclude_after_location_jumps=3
        )
    )

    assert set(everyone) == {
        approved.pk,
        unapproved.pk,
        corps_unapproved.pk,
        corps_old_course.pk,
        app_no_course.pk,
        jumpy.pk,
    }
    assert everyone[corps_unapproved.pk] == Alert.Pool.CORPS
    assert set(vetted) == {approved.pk}


def test_a_course_counts_for_the_days_the_policy_says_from_the_day_it_was_taken(db):
    today = timezone.localdate()
    just = VolunteerFactory(first_aid_course_on=today - dt.timedelta(days=365))
    VolunteerFactory(first_aid_course_on=today - dt.timedelta(days=366))

    assert set(chosen(DispatchPolicy(require_course_within_days=365))) == {just.pk}


@pytest.mark.usefixtures("fresh_cache")
def test_a_new_sign_up_waits_for_approval_and_the_app_says_why_in_danish(db, client):
    DispatchPolicyFactory(require_course_within_days=730)
    volunteer = VolunteerFactory(approved_at=None, first_aid_course_on=None)
    app = APIClient()
    app.credentials(HTTP_AUTHORIZATION=f"Token {auth_token_create(user=volunteer.user)}")

    before = app.get("/api/v1/me/").json()["vetting"]
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.post(
        reverse("admin:volunteers_volunteer_changelist"),
        {"action": "approve", "_selected_action": [volunteer.pk]},
    )
    between = app.get("/api/v1/me/").json()["vetting"]
    app.patch("/api/v1/me/", {"first_aid_course_on": str(timezone.localdate())}, format="json")
    volunteer.refresh_from_db()

    assert before == {
        "passed": False,
        "reasons": [
            {
                "code": "not_approved",
                "message": "Din tilmelding afventer godkendelse fra ordningens administratorer; "
                "indtil da bliver du ikke alarmeret.",
            },
            {
                "code": "no_course",
                "message": "Der er ikke registreret et førstehjælpskursus for dig; ordningen "
                "kræver et kursus taget inden for de seneste 730 dage.",
            },
        ],
    }
    assert response.status_code == 302
    assert [r["code"] for r in between["reasons"]] == ["no_course"]
    # A course date from the app withdraws the approval: an administrator looks again.
    assert volunteer.approved_at is None
    assert [r["code"] for r in app.get("/api/v1/me/").json()["vetting"]["reasons"]] == [
        "not_approved"
    ]


def test_approval_clears_the_position_jump_flags_and_the_volunteer_is_alerted_again(db, client):
    jumpy = VolunteerFactory()
    Volunteer.objects.filter(pk=jumpy.pk).update(location_jumps=3, approved_at=None)
    policy = DispatchPolicy(exclude_after_location_jumps=3)
    assert jumpy.pk not in chosen(policy)

    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    client.post(
        reverse("admin:volunteers_volunteer_changelist"),
        {"action": "approve", "_selected_action": [jumpy.pk]},
    )

    jumpy.refresh_from_db()
    assert (jumpy.location_jumps, jumpy.approved_by) == (0, admin)
    assert jumpy.pk in chosen(policy)
    changelist = client.get(
        reverse("admin:volunteers_volunteer_changelist"), {"approval": "pending"}
    )
    assert changelist.status_code == 200


def test_an_unchanged_course_date_keeps_the_approval(db):
    volunteer = VolunteerFactory()

    volunteer_update(
        volunteer=volunteer, data={"first_aid_course_on": volunteer.first_aid_course_on}
    )

    volunteer.refresh_from_db()
    assert volunteer.approved_at is not None


def test_the_incident_keeps_the_vetting_of_the_policy_it_was_created_under(db):
    DispatchPolicyFactory(
        require_approval=False,
        require_course_within_days=100,
        exclude_after_location_jumps=None,
        release_surplus_after_s=45,
    )

    incident = amk_services.incident_create(
        created_by=UserFactory(), location=point(*AARHUS_C), address="Store Torv 1"
    )

    incident.refresh_from_db()
    copy = incident.dispatch_policy
    assert {
        k: copy[k]
        for k in (
            "require_approval",
            "require_course_within_days",
            "exclude_after_location_jumps",
            "release_surplus_after_s",
        )
    } == {
        "require_approval": False,
        "require_course_within_days": 100,
        "exclude_after_location_jumps": None,
        "release_surplus_after_s": 45,
    }


def test_a_corps_member_an_administrator_creates_in_the_admin_is_approved_by_them(db, rf):
    from django.contrib.admin.sites import site

    admin_user = UserFactory(is_staff=True, is_superuser=True)
    request = rf.post("/admin/volunteers/volunteer/add/")
    request.user = admin_user
    model_admin = site._registry[Volunteer]
    member = VolunteerFactory.build(
        user=UserFactory(), local_area=LocalAreaFactory(), is_heart_runner=False, approved_at=None
    )

    model_admin.save_model(request, member, form=None, change=False)

    member.refresh_from_db()
    assert member.approved_at is not None
    assert member.approved_by == admin_user
    assert member.pk in chosen(DispatchPolicy(require_approval=True))
