"""The CAD integration API (/api/cad/v1/): a CAD system creates, updates, cancels and closes
incidents by its own incident number and reads their state. Thin: the services of amk.cad do
the work (through the incident core's services), errors become 400/404/409 in
config.api.exception_handler."""

from django.contrib.gis.geos import Point
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.models import Alert
from alerts.selectors.incident import ALERT_COUNTS
from amk.cad.auth import CadKeyAuthentication, CadKeyThrottle, IsActiveCadSystem, request_system
from amk.cad.models import CadIncident
from amk.cad.selectors import cad_incident_get, cad_incident_state
from amk.cad.services import incidents as cad_incidents
from amk.models.incident import Incident

CAD_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
ERRORS = {
    400: OpenApiResponse(description="Invalid input: {field: [reason]} or {detail: reason}"),
    401: OpenApiResponse(description="Missing, unknown or revoked API key"),
    403: OpenApiResponse(description="The CAD system is deactivated"),
    404: OpenApiResponse(description="No incident of this system with this CAD number"),
    409: OpenApiResponse(
        description="The CAD number exists with other data (fields named), or the incident "
        "has already ended otherwise"
    ),
    429: OpenApiResponse(description="Too many requests for this key"),
}


def errors(*codes: int) -> dict:
    return {code: ERRORS[code] for code in codes}


class LocationSerializer(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lon = serializers.FloatField(min_value=-180, max_value=180)


# The board's counts of the incident's alerts, one field per alerts.selectors.incident.ALERT_COUNTS.
CountsSerializer = type(
    "CountsSerializer",
    (serializers.Serializer,),
    {key: serializers.IntegerField() for key in ALERT_COUNTS},
)


class ResponderSerializer(serializers.Serializer):
    alert_id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=Alert.State.choices)
    role = serializers.ChoiceField(
        choices=[("cpr", "cpr"), ("aed", "aed")],
        help_text="cpr: straight to the patient; aed: fetches an AED first.",
    )
    aed = serializers.CharField(allow_null=True, help_text="The AED fetched, for role aed.")
    distance_m = serializers.IntegerField(allow_null=True)
    arrival_estimated_at = serializers.DateTimeField(allow_null=True)
    arrival_in_min = serializers.IntegerField(allow_null=True)


class IncidentStateSerializer(serializers.Serializer):
    cad_number = serializers.CharField()
    incident_id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=Incident.State.choices)
    location = LocationSerializer()
    address = serializers.CharField(allow_blank=True)
    municipality = serializers.CharField()
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    waves = serializers.IntegerField()
    counts = CountsSerializer()
    responders = ResponderSerializer(many=True)


def _point(data: dict | None) -> Point | None:
    return Point(data["lon"], data["lat"], srid=4326) if data else None


def _state(link: CadIncident, code: int = status.HTTP_200_OK, *, created: bool = False) -> Response:
    # Just created: the dispatch starts after the commit, so there is no alert to read yet (and
    # the alerts' query would compete with the worker for the CPU in the seconds that count).
    state = cad_incident_state(cad_incident=link, alerts=[] if created else None)
    return Response(IncidentStateSerializer(state).data, status=code)


class CadApiView(APIView):
    authentication_classes = [CadKeyAuthentication]
    permission_classes = [IsActiveCadSystem]
    throttle_classes = [CadKeyThrottle]
    throttle_scope = "cad"


class CadIncidentCreateApi(CadApiView):
    class InputSerializer(serializers.Serializer):
        cad_number = serializers.RegexField(
            CAD_NUMBER, help_text="The CAD's own incident number: the key of every call."
        )
        location = LocationSerializer()
        address = serializers.CharField(max_length=255, required=False, default="")
        note = serializers.CharField(
            max_length=2000, required=False, default="", help_text="For the console only."
        )
        exclusion_reasons = serializers.ListField(
            child=serializers.ChoiceField(choices=Incident.Exclusion.choices),
            required=False,
            default=list,
            max_length=len(Incident.Exclusion.choices),
            help_text="Reasons not to activate volunteers (the incident is recorded only).",
        )
        called_at = serializers.DateTimeField(
            required=False,
            default=None,
            help_text="When the 1-1-2 call reached the centre (ISO 8601 with offset): the "
            "statistics time the first alert from it.",
        )

    @extend_schema(
        tags=["cad"],
        request=InputSerializer,
        responses={201: IncidentStateSerializer, 200: IncidentStateSerializer}
        | errors(400, 401, 403, 409, 429),
        description="Create the incident for a CAD number and alert volunteers. Idempotent: "
        "a repeat with the same location and address answers 200 with the same incident (no "
        "second alert); with another location or address 409, naming the fields.",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        link, created = cad_incidents.cad_incident_create(
            system=request_system(request),
            cad_number=v["cad_number"],
            location=_point(v["location"]),
            address=v["address"],
            note=v["note"],
            exclusion_reasons=v["exclusion_reasons"],
            called_at=v["called_at"],
        )
        if created:
            return _state(link, status.HTTP_201_CREATED, created=True)
        return _state(link)


class CadIncidentDetailApi(CadApiView):
    class UpdateSerializer(serializers.Serializer):
        location = LocationSerializer(required=False)
        address = serializers.CharField(max_length=255, required=False, allow_blank=True)
        note = serializers.CharField(
            max_length=500, required=False, default="", help_text="Added to the timeline."
        )

    @extend_schema(
        tags=["cad"],
        responses={200: IncidentStateSerializer} | errors(401, 403, 404, 429),
        description="The incident's state: alerts, acceptances, roles, estimated arrivals.",
    )
    def get(self, request, cad_number: str):
        return _state(cad_incident_get(system=request_system(request), cad_number=cad_number))

    @extend_schema(
        tags=["cad"],
        request=UpdateSerializer,
        responses={200: IncidentStateSerializer} | errors(400, 401, 403, 404, 409, 429),
        description="Correct the location or address of an open incident, or add a note.",
    )
    def patch(self, request, cad_number: str):
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        link = cad_incidents.cad_incident_update(
            system=request_system(request),
            cad_number=cad_number,
            location=_point(v.get("location")),
            address=v.get("address"),
            note=v["note"],
        )
        return _state(link)


class CadIncidentCancelApi(CadApiView):
    @extend_schema(
        tags=["cad"],
        request=None,
        responses={200: IncidentStateSerializer} | errors(401, 403, 404, 409, 429),
        description="Not a cardiac arrest: stand everyone down. A repeat answers 200; an "
        "incident already closed is 409.",
    )
    def post(self, request, cad_number: str):
        system = request_system(request)
        return _state(cad_incidents.cad_incident_cancel(system=system, cad_number=cad_number))


class CadIncidentCloseApi(CadApiView):
    class InputSerializer(serializers.Serializer):
        ems_arrived_at = serializers.DateTimeField(
            required=False,
            default=None,
            help_text="When the ambulance reached the patient (ISO 8601 with offset), if known.",
        )

    @extend_schema(
        tags=["cad"],
        request=InputSerializer,
        responses={200: IncidentStateSerializer} | errors(400, 401, 403, 404, 409, 429),
        description="The ambulance is on scene: release the responders with thanks. A repeat "
        "answers 200; an incident already cancelled is 409.",
    )
    def post(self, request, cad_number: str):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = cad_incidents.cad_incident_close(
            system=request_system(request),
            cad_number=cad_number,
            ems_arrived_at=data.validated_data["ems_arrived_at"],
        )
        return _state(link)
