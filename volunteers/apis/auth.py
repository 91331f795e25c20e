"""Sign-up and login: the current terms, a one-time code by SMS, sign-up, login and logout."""

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.services.codes import login_code_request
from config.api import LoginIpThrottle, LoginPhoneThrottle, OtpIpThrottle, OtpPhoneThrottle
from volunteers.apis.base import ApiView, errors
from volunteers.services.accounts import (
    auth_token_create,
    auth_token_revoke,
    volunteer_log_in,
    volunteer_sign_up,
)


def _e164(phone) -> str:
    return phone.as_e164


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
        responses={202: OutputSerializer, **errors(400, 429, 503)},
        summary="Send a one-time code by SMS (for sign-up or login)",
        description=(
            "Codes go only to mobile numbers of the allowed countries (Denmark by default), at "
            "most a few per number per hour and per day (429), and within a global hourly "
            "budget (503). The SMS is queued: 202 means accepted, not yet delivered."
        ),
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        login_code_request(phone=_e164(data.validated_data["phone"]))
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
            **errors(400, 429),
        },
        summary="Sign up with the code and accept the terms; returns this device's token",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields["phone"] = _e164(fields["phone"])
        volunteer = volunteer_sign_up(**fields)
        token = auth_token_create(user=volunteer.user)
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
        responses={200: TokenOutputSerializer, **errors(400, 429)},
        summary="Log in on a device with the code; returns this device's token",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        volunteer = volunteer_log_in(
            phone=_e164(data.validated_data["phone"]), code=data.validated_data["code"]
        )
        token = auth_token_create(user=volunteer.user)
        return Response({"token": token, "volunteer_id": volunteer.pk})


class LogoutApi(ApiView):
    @extend_schema(
        operation_id="auth_log_out",
        request=None,
        responses={204: None, **errors(401)},
        summary="Revoke this device's token",
    )
    def post(self, request):
        auth_token_revoke(auth_token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
