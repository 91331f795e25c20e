"""The whole volunteer journey through the API, a real Celery worker and the providers' clients."""

import re

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import Alert
from amk.console.board import incident_board
from amk.services import incidents as amk_services
from tests.factories import AARHUS_C, DispatchPolicyFactory, UserFactory, point
from volunteers.services.vetting import volunteers_approve

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_cache", "codes_sent_inline"),
]

ADDRESS = "Store Torv 1, 8000 Aarhus C"


def test_sign_up_to_accepted_alert_with_the_address(
    dispatch_worker,
    reference_geography,
    twilio_backend_settings,
    fcm_backend_settings,
    fake_twilio,
    fake_fcm,
):
    DispatchPolicyFactory(push_receipt_timeout_s=120, escalate_after_s=600)
    app = APIClient()

    # Sign up: the code arrives by SMS through the real Twilio client.
    assert app.post("/api/v1/auth/code/", {"phone": "61 23 45 67"}).status_code == 202
    sms = fake_twilio.wait_for_messages(1, timeout=10)[0]
    assert sms.to == "+4561234567"
    code = re.search(r"\b(\d{6})\b", sms.body).group(1)
    terms = app.get("/api/v1/terms/").json()
    signed_up = app.post(
        "/api/v1/auth/signup/",
        {
            "phone": "+4561234567",
            "code": code,
            "first_name": "Søren",
            "last_name": "Kristensen",
            "date_of_birth": "1979-09-30",
            **terms,
        },
    )
    assert signed_up.status_code == 201, signed_up.content
    app.credentials(HTTP_AUTHORIZATION=f"Token {signed_up.json()['token']}")
    # Not alerted until an administrator approves the sign-up (the policy's default), and the
    # app can say why; the administrator approves.
    vetting = app.get("/api/v1/me/").json()["vetting"]
    assert [reason["code"] for reason in vetting["reasons"]] == ["not_approved"]
    volunteers_approve(
        volunteer_ids=[app.get("/api/v1/me/").json()["id"]],
        approved_by=UserFactory(is_staff=True),
    )
    assert app.get("/api/v1/me/").json()["vetting"] == {"passed": True, "reasons": []}

    # The app registers its push token and reports where the phone is, 300 m from the incident.
    device = app.post("/api/v1/devices/", {"push_token": "fcm-journey-1", "platform": "android"})
    assert device.status_code == 201
    located = app.post(
        "/api/v1/me/location/",
        {
            "lat": AARHUS_C[1] + 0.0027,
            "lon": AARHUS_C[0],
            "accuracy_m": 10,
            "measured_at": timezone.now().isoformat(),
        },
    )
    assert located.status_code == 204, located.content

    # The dispatcher creates an incident; the alert reaches the phone by push.
    incident = amk_services.incident_create(
        created_by=UserFactory(), location=point(*AARHUS_C), address=ADDRESS
    )
    push = fake_fcm.wait_for_messages(1, timeout=20)[0]
    assert push.token == "fcm-journey-1"
    alert_id = int(push.data["alert_id"])

    assert app.post(f"/api/v1/alerts/{alert_id}/receipt/").status_code == 200
    before = app.get(f"/api/v1/alerts/{alert_id}/").json()
    assert before["assignment"] is None
    assert before["approximate_distance_m"] == 300

    accepted = app.post(f"/api/v1/alerts/{alert_id}/accept/")

    assert accepted.status_code == 200, accepted.content
    assignment = accepted.json()["assignment"]
    assert assignment["address"] == ADDRESS
    assert assignment["role"] == "cpr"
    board = incident_board(incident_id=incident.pk)
    assert board["counts"]["accepted"] == 1
    assert Alert.objects.get(pk=alert_id).state == Alert.State.ACCEPTED
