"""The volunteer's alerts: list, read (the address only after acceptance), confirm receipt,
accept, decline, report progress, confirm the AED they fetched is back, and the debrief
afterwards."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from alerts.models import AedUse, Alert
from alerts.selectors.volunteer import volunteer_alert, volunteer_alerts
from alerts.services import answers as alert_answers
from alerts.services.aed_uses import aed_return_by_fetcher
from alerts.services.debriefs import debrief_submit
from config.exceptions import ApplicationError
from volunteers import selectors
from volunteers.apis.base import ApiView, LatLonSerializer, errors, latlon
from volunteers.models import Debrief


class AedAssignmentSerializer(serializers.Serializer):
    name = serializers.CharField()
    location = LatLonSerializer()
    address = serializers.CharField()
    placement = serializers.CharField()
    floor = serializers.CharField()
    cabinet_code = serializers.CharField(help_text="Only for the volunteer sent to fetch it.")


class AssignmentSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=[("cpr", "cpr"), ("aed", "aed")])
    address = serializers.CharField()
    location = LatLonSerializer()
    aed = AedAssignmentSerializer(allow_null=True)


class AlertOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=Alert.State.choices)
    created_at = serializers.DateTimeField()
    approximate_distance_m = serializers.IntegerField(
        allow_null=True, help_text="Distance at the time of the alert, rounded to 100 m."
    )
    municipality = serializers.CharField()
    incident_open = serializers.BooleanField()
    received_at = serializers.DateTimeField(allow_null=True)
    answered_at = serializers.DateTimeField(allow_null=True)
    assignment = AssignmentSerializer(
        allow_null=True,
        help_text="Address, point and role: only after acceptance, while the incident is open.",
    )


def _alert(alert: Alert, *, with_assignment: bool = True) -> dict:
    incident = alert.incident
    assignment = None
    if with_assignment and alert.state in Alert.RESPONDING_STATES and incident.is_open:
        aed = None
        if alert.role == Alert.Role.AED and alert.aed is not None:
            aed = {
                "name": alert.aed.name,
                "location": latlon(alert.aed.location),
                "address": alert.aed.address,
                "placement": alert.aed.placement,
                "floor": alert.aed.floor,
                "cabinet_code": alert.aed.cabinet_code,
            }
        assignment = {
            "role": alert.role or Alert.Role.CPR,
            "address": incident.address,
            "location": latlon(incident.location),
            "aed": aed,
        }
    return {
        "id": alert.pk,
        "state": alert.state,
        "created_at": alert.created_at,
        "approximate_distance_m": selectors.approximate_distance_m(alert.distance_m),
        "municipality": incident.municipality.name,
        "incident_open": incident.is_open,
        "received_at": alert.received_at,
        "answered_at": alert.answered_at,
        "assignment": assignment,
    }


def _own_alert(request, alert_id: int) -> Alert:
    alert = volunteer_alert(
        alert_id=alert_id, volunteer_id=selectors.volunteer_for_user(user_id=request.user.pk).pk
    )
    if alert is None:
        raise ApplicationError(_("No such alert."), code="not_found")
    return alert


class AlertListApi(ApiView):
    @extend_schema(
        operation_id="alerts_list",
        responses={200: AlertOutputSerializer(many=True), **errors(401)},
        summary="My alerts, newest first (the latest 100)",
    )
    def get(self, request):
        volunteer = self.volunteer()
        alerts = volunteer_alerts(volunteer_id=volunteer.pk)[:100]
        return Response(
            AlertOutputSerializer(
                [_alert(a, with_assignment=False) for a in alerts], many=True
            ).data
        )


class AlertDetailApi(ApiView):
    @extend_schema(
        operation_id="alerts_read",
        responses={200: AlertOutputSerializer, **errors(401, 404)},
        summary="One of my alerts; the address only after acceptance",
    )
    def get(self, request, alert_id: int):
        return Response(AlertOutputSerializer(_alert(_own_alert(request, alert_id))).data)


class _AlertActionApi(ApiView):
    service = None

    def _respond(self, request, alert_id: int, **kwargs):
        volunteer = self.volunteer()
        type(self).service(alert_id=alert_id, volunteer=volunteer, **kwargs)
        alert = volunteer_alert(alert_id=alert_id, volunteer_id=volunteer.pk)
        return Response(AlertOutputSerializer(_alert(alert)).data)


_CONFLICT = {409: OpenApiResponse(description="Not possible in the alert's state")}


class AlertReceiptApi(_AlertActionApi):
    service = staticmethod(alert_answers.alert_confirm_receipt)

    @extend_schema(
        operation_id="alerts_confirm_receipt",
        request=None,
        responses={200: AlertOutputSerializer, **errors(401, 404)},
        summary="The app showed the alert (no SMS fallback needed)",
    )
    def post(self, request, alert_id: int):
        return self._respond(request, alert_id)


class AlertAcceptApi(_AlertActionApi):
    service = staticmethod(alert_answers.alert_accept)

    @extend_schema(
        operation_id="alerts_accept",
        request=None,
        responses={200: AlertOutputSerializer, **errors(401, 404), **_CONFLICT},
        summary="Accept: returns the address, the point and my role",
    )
    def post(self, request, alert_id: int):
        return self._respond(request, alert_id)


class AlertDeclineApi(_AlertActionApi):
    service = staticmethod(alert_answers.alert_decline)

    @extend_schema(
        operation_id="alerts_decline",
        request=None,
        responses={200: AlertOutputSerializer, **errors(401, 404), **_CONFLICT},
        summary="Decline",
    )
    def post(self, request, alert_id: int):
        return self._respond(request, alert_id)


PROGRESS_STATES = {
    "en_route": Alert.State.EN_ROUTE,
    "aed_collected": Alert.State.AED_COLLECTED,
    "on_scene": Alert.State.ON_SCENE,
    "finished": Alert.State.RELEASED,
}


class AlertProgressApi(_AlertActionApi):
    service = staticmethod(alert_answers.alert_progress)

    class InputSerializer(serializers.Serializer):
        state = serializers.ChoiceField(choices=list(PROGRESS_STATES))

    @extend_schema(
        operation_id="alerts_progress",
        request=InputSerializer,
        responses={200: AlertOutputSerializer, **errors(400, 401, 404)},
        summary="Report progress: en_route, aed_collected, on_scene, finished",
    )
    def post(self, request, alert_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._respond(request, alert_id, state=PROGRESS_STATES[data.validated_data["state"]])


class AlertAedReturnedApi(ApiView):
    class OutputSerializer(serializers.Serializer):
        aed = serializers.CharField(help_text="The AED's name.")
        taken_at = serializers.DateTimeField(help_text="When it was assigned to me.")
        ended_at = serializers.DateTimeField(help_text="When it was confirmed back (or given up).")
        ending = serializers.ChoiceField(choices=[c for c in AedUse.Ending.values if c])

    @extend_schema(
        operation_id="alerts_aed_returned",
        request=None,
        responses={200: OutputSerializer, **errors(401, 404), **_CONFLICT},
        summary="The AED I was sent for is back in place: it can be sent for again",
    )
    def post(self, request, alert_id: int):
        use = aed_return_by_fetcher(alert_id=alert_id, volunteer=self.volunteer())
        return Response(
            self.OutputSerializer(
                {
                    "aed": use.aed.name,
                    "taken_at": use.taken_at,
                    "ended_at": use.ended_at,
                    "ending": use.ending,
                }
            ).data
        )


class DebriefApi(ApiView):
    class InputSerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(choices=Debrief.Outcome.choices)
        comment = serializers.CharField(max_length=2000, required=False, allow_blank=True)
        wants_call = serializers.BooleanField(
            help_text="Ask to be called by a professional for a follow-up talk."
        )

    class OutputSerializer(serializers.Serializer):
        alert_id = serializers.IntegerField()
        outcome = serializers.ChoiceField(choices=Debrief.Outcome.choices)
        comment = serializers.CharField()
        wants_call = serializers.BooleanField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="alerts_debrief",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(400, 401, 404), **_CONFLICT},
        summary="After the alert: how it went, and whether I want a call",
    )
    def post(self, request, alert_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        debrief = debrief_submit(
            volunteer=self.volunteer(), alert_id=alert_id, **data.validated_data
        )
        return Response(self.OutputSerializer(debrief).data, status=status.HTTP_201_CREATED)
