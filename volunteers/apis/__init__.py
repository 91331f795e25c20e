"""The volunteers' mobile REST API (/api/v1/): one view per resource action, serializers inside.

Everything needs a token except asking for a code, signing up, logging in and reading the current
terms. Every object is looked up together with the caller: another volunteer's alert or device is
a 404, never its data. Writes go through volunteers.services / alerts.services; errors they raise
(ApplicationError) become 400/404/409 in config.api.exception_handler.
"""

import datetime as dt

from django.conf import settings
from django.contrib.gis.geos import Point
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import selectors as alert_selectors
from alerts import services as alert_services
from alerts.models import Alert
from amk.selectors import within_denmark
from config.api import (
    LoginIpThrottle,
    LoginPhoneThrottle,
    OtpIpThrottle,
    OtpPhoneThrottle,
    UserScopedThrottle,
)
from config.exceptions import ApplicationError
from volunteers import selectors, services
from volunteers.models import Debrief, Device, Volunteer

ERROR_RESPONSES = {
    400: OpenApiResponse(description="Invalid input: {field: [reason]} or {detail: reason}"),
    401: OpenApiResponse(description="Missing or invalid token"),
    404: OpenApiResponse(description="Not found (or not yours)"),
    429: OpenApiResponse(description="Too many requests"),
}


# The schema's description of config.api.LeanTokenAuthentication (knox tokens).
class LeanTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "config.api.LeanTokenAuthentication"
    name = "knoxTokenAuth"
    priority = 1

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Token-based authentication with required prefix "Token"',
        }


def _errors(*codes: int) -> dict:
    return {code: ERROR_RESPONSES[code] for code in codes}


def _e164(phone) -> str:
    return phone.as_e164


class LatLonSerializer(serializers.Serializer):
    lat = serializers.FloatField()
    lon = serializers.FloatField()


def _latlon(point: Point | None) -> dict | None:
    return {"lat": round(point.y, 6), "lon": round(point.x, 6)} if point is not None else None


class ApiView(APIView):
    """Authenticated volunteer endpoints, throttled per user on the general "api" scope."""

    throttle_classes = [UserScopedThrottle]
    throttle_scope = "api"

    def volunteer(self) -> Volunteer:
        return selectors.volunteer_for_user(user_id=self.request.user.pk)


# --- Sign-up and login ---------------------------------------------------------------------------


class TermsApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    class OutputSerializer(serializers.Serializer):
        terms_version = serializers.CharField()
        location_consent_version = serializers.CharField()

    @extend_schema(
        operation_id="terms_current",
        responses={200: OutputSerializer},
        summary="The versions of the texts a new volunteer accepts",
    )
    def get(self, request):
        return Response(
            {
                "terms_version": settings.VOLUNTEER_TERMS_VERSION,
                "location_consent_version": settings.VOLUNTEER_LOCATION_CONSENT_VERSION,
            }
        )


class CodeRequestApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [OtpPhoneThrottle, OtpIpThrottle]

    class InputSerializer(serializers.Serializer):
        phone = PhoneNumberField(help_text="Mobile number; Danish numbers may omit +45.")

    class OutputSerializer(serializers.Serializer):
        detail = serializers.CharField()
        expires_in_s = serializers.IntegerField()

    @extend_schema(
        operation_id="auth_code_request",
        request=InputSerializer,
        responses={202: OutputSerializer, **_errors(400, 429)},
        summary="Send a one-time code by SMS (for sign-up or login)",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.phone_code_send(phone=_e164(data.validated_data["phone"]))
        return Response(
            {"detail": _("A code has been sent by SMS."), "expires_in_s": settings.OTP_TTL_S},
            status=status.HTTP_202_ACCEPTED,
        )


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    volunteer_id = serializers.IntegerField()


class SignUpApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [LoginPhoneThrottle, LoginIpThrottle]

    class InputSerializer(serializers.Serializer):
        phone = PhoneNumberField()
        code = serializers.RegexField(r"^\d{6}$", help_text="The 6-digit code from the SMS.")
        first_name = serializers.CharField(max_length=150)
        last_name = serializers.CharField(max_length=150)
        date_of_birth = serializers.DateField(help_text="At least 18 years old.")
        first_aid_course_on = serializers.DateField(required=False, allow_null=True)
        terms_version = serializers.CharField(max_length=32)
        location_consent_version = serializers.CharField(max_length=32)

    @extend_schema(
        operation_id="auth_sign_up",
        request=InputSerializer,
        responses={
            201: TokenOutputSerializer,
            409: OpenApiResponse(description="Already registered"),
            **_errors(400, 429),
        },
        summary="Sign up with the code and accept the terms; returns this device's token",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields["phone"] = _e164(fields["phone"])
        volunteer = services.volunteer_sign_up(**fields)
        token = services.auth_token_create(user=volunteer.user)
        return Response(
            {"token": token, "volunteer_id": volunteer.pk}, status=status.HTTP_201_CREATED
        )


class LoginApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [LoginPhoneThrottle, LoginIpThrottle]

    class InputSerializer(serializers.Serializer):
        phone = PhoneNumberField()
        code = serializers.RegexField(r"^\d{6}$")

    @extend_schema(
        operation_id="auth_log_in",
        request=InputSerializer,
        responses={200: TokenOutputSerializer, **_errors(400, 429)},
        summary="Log in on a device with the code; returns this device's token",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        volunteer = services.volunteer_log_in(
            phone=_e164(data.validated_data["phone"]), code=data.validated_data["code"]
        )
        token = services.auth_token_create(user=volunteer.user)
        return Response({"token": token, "volunteer_id": volunteer.pk})


class LogoutApi(ApiView):
    @extend_schema(
        operation_id="auth_log_out",
        request=None,
        responses={204: None, **_errors(401)},
        summary="Revoke this device's token",
    )
    def post(self, request):
        services.auth_token_revoke(auth_token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Profile, availability, location -------------------------------------------------------------


class LocationOutputSerializer(serializers.Serializer):
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    accuracy_m = serializers.IntegerField(allow_null=True)
    measured_at = serializers.DateTimeField()


class CorpsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ProfileOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    phone = serializers.CharField()
    phone_verified_at = serializers.DateTimeField(allow_null=True)
    date_of_birth = serializers.DateField()
    first_aid_course_on = serializers.DateField(allow_null=True)
    is_available = serializers.BooleanField()
    quiet_hours_start = serializers.TimeField(allow_null=True)
    quiet_hours_end = serializers.TimeField(allow_null=True)
    is_heart_runner = serializers.BooleanField(help_text="Read-only: changed by admins.")
    corps = CorpsSerializer(allow_null=True, help_text="Read-only: 1-1-2 førstehjælper corps.")
    location = LocationOutputSerializer(allow_null=True)


def _profile(volunteer: Volunteer) -> dict:
    location = None
    if volunteer.location is not None:
        location = {
            **_latlon(volunteer.location),
            "accuracy_m": volunteer.location_accuracy_m,
            "measured_at": volunteer.location_updated_at,
        }
    return ProfileOutputSerializer(
        {
            "id": volunteer.pk,
            "first_name": volunteer.user.first_name,
            "last_name": volunteer.user.last_name,
            "phone": str(volunteer.phone),
            "phone_verified_at": volunteer.phone_verified_at,
            "date_of_birth": volunteer.date_of_birth,
            "first_aid_course_on": volunteer.first_aid_course_on,
            "is_available": volunteer.is_available,
            "quiet_hours_start": volunteer.quiet_hours_start,
            "quiet_hours_end": volunteer.quiet_hours_end,
            "is_heart_runner": volunteer.is_heart_runner,
            "corps": (
                {"id": volunteer.local_area_id, "name": volunteer.local_area.name}
                if volunteer.local_area_id
                else None
            ),
            "location": location,
        }
    ).data


class ProfileApi(ApiView):
    class UpdateSerializer(serializers.Serializer):
        first_name = serializers.CharField(max_length=150, required=False)
        last_name = serializers.CharField(max_length=150, required=False)
        date_of_birth = serializers.DateField(required=False)
        first_aid_course_on = serializers.DateField(required=False, allow_null=True)
        is_available = serializers.BooleanField(required=False)
        quiet_hours_start = serializers.TimeField(
            required=False, allow_null=True, help_text="Local time, e.g. 23:00."
        )
        quiet_hours_end = serializers.TimeField(required=False, allow_null=True)

    @extend_schema(
        operation_id="me_read",
        responses={200: ProfileOutputSerializer, **_errors(401)},
        summary="My profile",
    )
    def get(self, request):
        return Response(_profile(self.volunteer()))

    @extend_schema(
        operation_id="me_update",
        request=UpdateSerializer,
        responses={200: ProfileOutputSerializer, **_errors(400, 401)},
        summary="Change my profile (scheme and corps membership are read-only)",
    )
    def patch(self, request):
        data = self.UpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        volunteer = services.volunteer_update(
            volunteer=self.volunteer(), data=dict(data.validated_data)
        )
        return Response(_profile(volunteer))

    @extend_schema(
        operation_id="me_delete",
        responses={204: None, **_errors(401)},
        summary="Delete my account: personal data erased, alerts kept without identity",
    )
    def delete(self, request):
        services.volunteer_delete(volunteer=self.volunteer())
        return Response(status=status.HTTP_204_NO_CONTENT)


class AvailabilityApi(ApiView):
    class InputSerializer(serializers.Serializer):
        is_available = serializers.BooleanField()

    @extend_schema(
        operation_id="me_availability_set",
        request=InputSerializer,
        responses={200: InputSerializer, **_errors(400, 401)},
        summary="Switch alerts on or off",
    )
    def put(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        volunteer = services.volunteer_update(
            volunteer=self.volunteer(), data={"is_available": data.validated_data["is_available"]}
        )
        return Response({"is_available": volunteer.is_available})


def location_reading_plain(data) -> dict | None:
    """The usual well-formed body, typed and checked without the serializer; None for anything
    else, which LocationApi.InputSerializer then checks and words the error for."""
    if not isinstance(data, dict):
        return None
    lat, lon = data.get("lat"), data.get("lon")
    accuracy_m, measured = data.get("accuracy_m"), data.get("measured_at")
    if not (
        type(lat) in (int, float)
        and type(lon) in (int, float)
        and type(accuracy_m) is int
        and isinstance(measured, str)
        and -90 <= lat <= 90
        and -180 <= lon <= 180
        and accuracy_m >= 0
    ):
        return None
    try:
        measured_at = parse_datetime(measured)
    except ValueError:
        return None
    if measured_at is None or measured_at.tzinfo is None:
        return None
    values = {"lat": float(lat), "lon": float(lon), "accuracy_m": accuracy_m}
    values["measured_at"] = measured_at
    try:
        return location_reading_check(values)
    except serializers.ValidationError:
        return None


def location_reading_check(attrs: dict) -> dict:
    """Where and when a position may come from: Denmark, accurate enough, recent."""
    now = timezone.now()
    if not within_denmark(lon=attrs["lon"], lat=attrs["lat"]):
        raise serializers.ValidationError({"lat": [_("The position is outside Denmark.")]})
    if attrs["accuracy_m"] > settings.LOCATION_MAX_ACCURACY_M:
        raise serializers.ValidationError(
            {
                "accuracy_m": [
                    _("Too inaccurate: more than %(m)d m.")
                    % {"m": settings.LOCATION_MAX_ACCURACY_M}
                ]
            }
        )
    measured_at = attrs["measured_at"]
    if measured_at > now + dt.timedelta(seconds=settings.LOCATION_CLOCK_SKEW_S):
        raise serializers.ValidationError(
            {"measured_at": [_("The measurement time is in the future.")]}
        )
    if measured_at < now - dt.timedelta(seconds=settings.LOCATION_MAX_AGE_S):
        raise serializers.ValidationError(
            {
                "measured_at": [
                    _("Too old: measured more than %(s)d s ago.")
                    % {"s": settings.LOCATION_MAX_AGE_S}
                ]
            }
        )
    return {**attrs, "measured_at": min(measured_at, now)}


class LocationApi(APIView):
    """The heaviest endpoint. Its usual request (a token, a well-formed position) is answered
    by volunteers.fastpath before the middleware and DRF; this view answers everything else
    (other errors, throttling, wording in the caller's language) with the same checks."""

    class InputSerializer(serializers.Serializer):
        lat = serializers.FloatField(min_value=-90, max_value=90)
        lon = serializers.FloatField(min_value=-180, max_value=180)
        accuracy_m = serializers.IntegerField(min_value=0, help_text="Horizontal accuracy (m).")
        measured_at = serializers.DateTimeField(help_text="When the phone measured the position.")

        def validate(self, attrs):
            return location_reading_check(attrs)

    @extend_schema(
        operation_id="me_location_set",
        request=InputSerializer,
        responses={204: None, **_errors(400, 401, 404, 429)},
        summary="Report my current position (only the latest is kept)",
        description="At most one position is stored every LOCATION_MIN_INTERVAL_S (2 s): a "
        "position sooner than that is answered 429 with Retry-After. A reading measured "
        "before the stored one is accepted (204) and ignored.",
    )
    def post(self, request):
        values = location_reading_plain(request.data)
        if values is None:
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
        result = services.volunteer_location_update(
            user_id=request.user.id,
            lon=values["lon"],
            lat=values["lat"],
            measured_at=values["measured_at"],
            accuracy_m=values["accuracy_m"],
        )
        if result.outcome is services.LocationOutcome.NO_PROFILE:
            raise ApplicationError(_("No volunteer profile for this account."), code="not_found")
        if result.outcome is services.LocationOutcome.TOO_SOON:
            raise exceptions.Throttled(wait=result.retry_after_s)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="me_location_clear",
        responses={204: None, **_errors(401, 404)},
        summary="Forget my position now",
    )
    def delete(self, request):
        services.volunteer_location_clear(
            volunteer=selectors.volunteer_for_user(user_id=request.user.pk)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExportApi(ApiView):
    @extend_schema(
        operation_id="me_export",
        responses={
            200: OpenApiResponse(
                response=inline_serializer(
                    "PersonalDataExport",
                    fields={
                        "exported_at": serializers.DateTimeField(),
                        "profile": serializers.DictField(),
                        "location": serializers.DictField(allow_null=True),
                        "consents": serializers.ListField(child=serializers.DictField()),
                        "devices": serializers.ListField(child=serializers.DictField()),
                        "alerts": serializers.ListField(child=serializers.DictField()),
                        "debriefs": serializers.ListField(child=serializers.DictField()),
                        "api_tokens": serializers.ListField(child=serializers.DictField()),
                    },
                ),
                description="Everything stored about me",
            ),
            **_errors(401),
        },
        summary="Export all my data (JSON)",
    )
    def get(self, request):
        return Response(selectors.volunteer_export(volunteer=self.volunteer()))


# --- Devices -------------------------------------------------------------------------------------


class DeviceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    platform = serializers.ChoiceField(choices=Device.Platform.choices)
    push_token = serializers.CharField()
    is_active = serializers.BooleanField()
    last_seen_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class DeviceListApi(ApiView):
    class InputSerializer(serializers.Serializer):
        push_token = serializers.CharField(max_length=4096)
        platform = serializers.ChoiceField(choices=Device.Platform.choices)

    @extend_schema(
        operation_id="devices_list",
        responses={200: DeviceOutputSerializer(many=True), **_errors(401)},
        summary="My devices",
    )
    def get(self, request):
        devices = Device.objects.filter(volunteer__user_id=request.user.pk).order_by("pk")
        return Response(DeviceOutputSerializer(devices, many=True).data)

    @extend_schema(
        operation_id="devices_register",
        request=InputSerializer,
        responses={201: DeviceOutputSerializer, **_errors(400, 401)},
        summary="Register this device's push token",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.device_register(
            volunteer=self.volunteer(), auth_token=request.auth, **data.validated_data
        )
        return Response(DeviceOutputSerializer(device).data, status=status.HTTP_201_CREATED)


class DeviceDetailApi(ApiView):
    class InputSerializer(serializers.Serializer):
        push_token = serializers.CharField(max_length=4096)
        platform = serializers.ChoiceField(choices=Device.Platform.choices, required=False)

    @extend_schema(
        operation_id="devices_replace_token",
        request=InputSerializer,
        responses={200: DeviceOutputSerializer, **_errors(400, 401, 404)},
        summary="Replace a device's push token",
    )
    def put(self, request, device_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.device_update(
            volunteer=self.volunteer(), device_id=device_id, **data.validated_data
        )
        return Response(DeviceOutputSerializer(device).data)

    @extend_schema(
        operation_id="devices_delete",
        responses={204: None, **_errors(401, 404)},
        summary="Forget a device (no more push to it)",
    )
    def delete(self, request, device_id: int):
        services.device_delete(volunteer=self.volunteer(), device_id=device_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Alerts --------------------------------------------------------------------------------------


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


def _approximate(distance_m: int | None) -> int | None:
    return None if distance_m is None else int(round(distance_m / 100.0) * 100)


def _alert(alert: Alert, *, with_assignment: bool = True) -> dict:
    incident = alert.incident
    assignment = None
    if with_assignment and alert.state in Alert.RESPONDING_STATES and incident.is_open:
        aed = None
        if alert.role == Alert.Role.AED and alert.aed is not None:
            aed = {
                "name": alert.aed.name,
                "location": _latlon(alert.aed.location),
                "address": alert.aed.address,
                "placement": alert.aed.placement,
                "floor": alert.aed.floor,
                "cabinet_code": alert.aed.cabinet_code,
            }
        assignment = {
            "role": alert.role or Alert.Role.CPR,
            "address": incident.address,
            "location": _latlon(incident.location),
            "aed": aed,
        }
    return {
        "id": alert.pk,
        "state": alert.state,
        "created_at": alert.created_at,
        "approximate_distance_m": _approximate(alert.distance_m),
        "municipality": incident.municipality.name,
        "incident_open": incident.is_open,
        "received_at": alert.received_at,
        "answered_at": alert.answered_at,
        "assignment": assignment,
    }


def _own_alert(request, alert_id: int) -> Alert:
    alert = alert_selectors.volunteer_alert(
        alert_id=alert_id, volunteer_id=selectors.volunteer_for_user(user_id=request.user.pk).pk
    )
    if alert is None:
        raise ApplicationError(_("No such alert."), code="not_found")
    return alert


class AlertListApi(ApiView):
    @extend_schema(
        operation_id="alerts_list",
        responses={200: AlertOutputSerializer(many=True), **_errors(401)},
        summary="My alerts, newest first (the latest 100)",
    )
    def get(self, request):
        volunteer = self.volunteer()
        alerts = alert_selectors.volunteer_alerts(volunteer_id=volunteer.pk)[:100]
        return Response(
            AlertOutputSerializer(
                [_alert(a, with_assignment=False) for a in alerts], many=True
            ).data
        )


class AlertDetailApi(ApiView):
    @extend_schema(
        operation_id="alerts_read",
        responses={200: AlertOutputSerializer, **_errors(401, 404)},
        summary="One of my alerts; the address only after acceptance",
    )
    def get(self, request, alert_id: int):
        return Response(AlertOutputSerializer(_alert(_own_alert(request, alert_id))).data)


class _AlertActionApi(ApiView):
    service = None

    def _respond(self, request, alert_id: int, **kwargs):
        volunteer = self.volunteer()
        type(self).service(alert_id=alert_id, volunteer=volunteer, **kwargs)
        alert = alert_selectors.volunteer_alert(alert_id=alert_id, volunteer_id=volunteer.pk)
        return Response(AlertOutputSerializer(_alert(alert)).data)


_CONFLICT = {409: OpenApiResponse(description="Not possible in the alert's state")}


class AlertReceiptApi(_AlertActionApi):
    service = staticmethod(alert_services.alert_confirm_receipt)

    @extend_schema(
        operation_id="alerts_confirm_receipt",
        request=None,
        responses={200: AlertOutputSerializer, **_errors(401, 404)},
        summary="The app showed the alert (no SMS fallback needed)",
    )
    def post(self, request, alert_id: int):
        return self._respond(request, alert_id)


class AlertAcceptApi(_AlertActionApi):
    service = staticmethod(alert_services.alert_accept)

    @extend_schema(
        operation_id="alerts_accept",
        request=None,
        responses={200: AlertOutputSerializer, **_errors(401, 404), **_CONFLICT},
        summary="Accept: returns the address, the point and my role",
    )
    def post(self, request, alert_id: int):
        return self._respond(request, alert_id)


class AlertDeclineApi(_AlertActionApi):
    service = staticmethod(alert_services.alert_decline)

    @extend_schema(
        operation_id="alerts_decline",
        request=None,
        responses={200: AlertOutputSerializer, **_errors(401, 404), **_CONFLICT},
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
    service = staticmethod(alert_services.alert_progress)

    class InputSerializer(serializers.Serializer):
        state = serializers.ChoiceField(choices=list(PROGRESS_STATES))

    @extend_schema(
        operation_id="alerts_progress",
        request=InputSerializer,
        responses={200: AlertOutputSerializer, **_errors(400, 401, 404)},
        summary="Report progress: en_route, aed_collected, on_scene, finished",
    )
    def post(self, request, alert_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._respond(request, alert_id, state=PROGRESS_STATES[data.validated_data["state"]])


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
        responses={201: OutputSerializer, **_errors(400, 401, 404), **_CONFLICT},
        summary="After the alert: how it went, and whether I want a call",
    )
    def post(self, request, alert_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        debrief = services.debrief_submit(
            volunteer=self.volunteer(), alert_id=alert_id, **data.validated_data
        )
        return Response(self.OutputSerializer(debrief).data, status=status.HTTP_201_CREATED)


# --- Nearby AEDs ---------------------------------------------------------------------------------


class AedNearbyApi(ApiView):
    class QuerySerializer(serializers.Serializer):
        lat = serializers.FloatField(min_value=-90, max_value=90)
        lon = serializers.FloatField(min_value=-180, max_value=180)
        radius_m = serializers.IntegerField(min_value=50, max_value=5000, default=1000)

        def validate(self, attrs):
            if not within_denmark(lon=attrs["lon"], lat=attrs["lat"]):
                raise serializers.ValidationError({"lat": [_("The point is outside Denmark.")]})
            return attrs

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        location = LatLonSerializer()
        distance_m = serializers.IntegerField()
        address = serializers.CharField()
        placement = serializers.CharField()
        floor = serializers.CharField()
        indoor = serializers.BooleanField(allow_null=True)
        access = serializers.CharField()
        opening_hours = serializers.CharField()
        available_now = serializers.BooleanField()

    @extend_schema(
        operation_id="aeds_nearby",
        parameters=[QuerySerializer],
        responses={200: OutputSerializer(many=True), **_errors(400, 401)},
        summary="AEDs around a point with availability now (no cabinet codes)",
    )
    def get(self, request):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        rows = selectors.aeds_near(
            point=Point(values["lon"], values["lat"], srid=4326), radius_m=values["radius_m"]
        )
        return Response(
            self.OutputSerializer(
                [
                    {
                        "id": aed.pk,
                        "name": aed.name,
                        "location": _latlon(aed.location),
                        "distance_m": distance_m,
                        "address": aed.address,
                        "placement": aed.placement,
                        "floor": aed.floor,
                        "indoor": aed.indoor,
                        "access": aed.access,
                        "opening_hours": aed.opening_hours,
                        "available_now": available,
                    }
                    for aed, distance_m, available in rows
                ],
                many=True,
            ).data
        )
