"""The volunteer's current position: report it, forget it. The usual report is answered before
this view by volunteers.fastpath; both check it with volunteers.positions."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.exceptions import ApplicationError
from volunteers import selectors
from volunteers.apis.base import errors
from volunteers.positions import location_reading_check, location_reading_plain
from volunteers.services.location import (
    LocationOutcome,
    volunteer_location_clear,
    volunteer_location_update,
)


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
            try:
                return location_reading_check(attrs)
            except ApplicationError as exc:
                raise serializers.ValidationError({exc.field: [exc.message]}) from None

    @extend_schema(
        operation_id="me_location_set",
        request=InputSerializer,
        responses={
            204: None,
            409: OpenApiResponse(
                description="Refused and not stored: farther from the last position than "
                "anyone could travel since (LOCATION_JUMP_MAX_SPEED_MPS); {lat: [reason]}"
            ),
            **errors(400, 401, 404, 429),
        },
        summary="Report my current position (only the latest is kept)",
        description="At most one position is stored every LOCATION_MIN_INTERVAL_S (2 s): a "
        "position sooner than that is answered 429 with Retry-After. A reading measured "
        "before the stored one is accepted (204) and ignored. A position farther from the "
        "stored one than anyone could have travelled since (both accuracies allowed for) is "
        "refused with 409 naming `lat`, and flagged on the volunteer; the app should keep "
        "reporting as usual.",
    )
    def post(self, request):
        values = location_reading_plain(request.data)
        if values is None:
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
        result = volunteer_location_update(
            user_id=request.user.id,
            lon=values["lon"],
            lat=values["lat"],
            measured_at=values["measured_at"],
            accuracy_m=values["accuracy_m"],
        )
        if result.outcome is LocationOutcome.NO_PROFILE:
            raise ApplicationError(_("No volunteer profile for this account."), code="not_found")
        if result.outcome is LocationOutcome.TOO_SOON:
            raise exceptions.Throttled(wait=result.retry_after_s)
        if result.outcome is LocationOutcome.JUMP:
            raise ApplicationError(
                _("Not stored: too far from your last position to have got there since."),
                field="lat",
                code="conflict",
            )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="me_location_clear",
        responses={204: None, **errors(401, 404)},
        summary="Forget my position now",
    )
    def delete(self, request):
        volunteer_location_clear(volunteer=selectors.volunteer_for_user(user_id=request.user.pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
