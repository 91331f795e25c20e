"""The volunteer's own profile: read, change, delete (erasure), availability, and the export of
everything stored about them."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from alerts.selectors.volunteer import VettingStatus, volunteer_vetting_status
from volunteers import selectors
from volunteers.apis.base import ApiView, errors, latlon
from volunteers.models import Vetting, Volunteer
from volunteers.services.accounts import volunteer_delete, volunteer_update


class LocationOutputSerializer(serializers.Serializer):
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    accuracy_m = serializers.IntegerField(allow_null=True)
    measured_at = serializers.DateTimeField()


class CorpsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ReasonSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=[
            Vetting.NOT_APPROVED,
            Vetting.NO_COURSE,
            Vetting.COURSE_EXPIRED,
            Vetting.LOCATION_JUMPS,
        ]
    )
    message = serializers.CharField(help_text="In the caller's language (Danish by default).")


class VettingSerializer(serializers.Serializer):
    passed = serializers.BooleanField(
        help_text="Whether the dispatch policy in force lets me be alerted at all (availability, "
        "position and quiet hours aside)."
    )
    reasons = ReasonSerializer(many=True, help_text="Why not, if not.")


def _reason(code: str, vetting: VettingStatus) -> str:
    """The app's words for a reason the policy keeps a volunteer from alerts."""
    days = vetting.course_within_days or 0
    return {
        Vetting.NOT_APPROVED: _(
            "Your sign-up awaits approval by the scheme's administrators; until then you are "
            "not alerted."
        ),
        Vetting.NO_COURSE: _(
            "No first-aid course is registered for you; the scheme asks for one taken within "
            "the last %(days)d days."
        )
        % {"days": days},
        Vetting.COURSE_EXPIRED: _(
            "Your first-aid course is more than %(days)d days old; you are alerted again once a "
            "newer course is registered."
        )
        % {"days": days},
        Vetting.LOCATION_JUMPS: _(
            "Your position jumped farther than anyone can travel several times; an "
            "administrator must look at your account before you are alerted again."
        ),
    }[code]


def _vetting(volunteer: Volunteer) -> dict:
    vetting = volunteer_vetting_status(volunteer=volunteer)
    return {
        "passed": not vetting.problems,
        "reasons": [{"code": c, "message": _reason(c, vetting)} for c in vetting.problems],
    }


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
    vetting = VettingSerializer(help_text="Read-only: may I be alerted, and if not, why not.")


def _profile(volunteer: Volunteer) -> dict:
    location = None
    if volunteer.location is not None:
        location = {
            **latlon(volunteer.location),
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
            "vetting": _vetting(volunteer),
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
        responses={200: ProfileOutputSerializer, **errors(401)},
        summary="My profile",
    )
    def get(self, request):
        return Response(_profile(self.volunteer()))

    @extend_schema(
        operation_id="me_update",
        request=UpdateSerializer,
        responses={200: ProfileOutputSerializer, **errors(400, 401)},
        summary="Change my profile (scheme and corps membership are read-only)",
    )
    def patch(self, request):
        data = self.UpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        volunteer = volunteer_update(volunteer=self.volunteer(), data=dict(data.validated_data))
        return Response(_profile(volunteer))

    @extend_schema(
        operation_id="me_delete",
        responses={204: None, **errors(401)},
        summary="Delete my account: personal data erased, alerts kept without identity",
    )
    def delete(self, request):
        volunteer_delete(volunteer=self.volunteer())
        return Response(status=status.HTTP_204_NO_CONTENT)


class AvailabilityApi(ApiView):
    class InputSerializer(serializers.Serializer):
        is_available = serializers.BooleanField()

    @extend_schema(
        operation_id="me_availability_set",
        request=InputSerializer,
        responses={200: InputSerializer, **errors(400, 401)},
        summary="Switch alerts on or off",
    )
    def put(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        volunteer = volunteer_update(
            volunteer=self.volunteer(), data={"is_available": data.validated_data["is_available"]}
        )
        return Response({"is_available": volunteer.is_available})


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
            **errors(401),
        },
        summary="Export all my data (JSON)",
    )
    def get(self, request):
        return Response(selectors.volunteer_export(volunteer=self.volunteer()))
