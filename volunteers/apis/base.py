"""What every resource of the volunteers' mobile REST API (/api/v1/) shares: the authenticated
base view, the documented error responses, the latitude/longitude shape, and the schema's
description of the token authentication (registered with drf-spectacular on import).

Everything needs a token except asking for a code, signing up, logging in and reading the current
terms. Every object is looked up together with the caller: another volunteer's alert or device is
a 404, never its data. Writes go through the services of volunteers and alerts; errors they raise
(ApplicationError) become 400/404/409 in config.api.exception_handler.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.views import APIView

from config.api import UserScopedThrottle
from volunteers import selectors
from volunteers.models import Volunteer
from volunteers.selectors import latlon as latlon  # the one shape of a point, shared with export

ERROR_RESPONSES = {
    400: OpenApiResponse(description="Invalid input: {field: [reason]} or {detail: reason}"),
    401: OpenApiResponse(description="Missing or invalid token"),
    404: OpenApiResponse(description="Not found (or not yours)"),
    429: OpenApiResponse(description="Too many requests"),
    503: OpenApiResponse(description="Temporarily refused (e.g. the SMS budget is spent)"),
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


def errors(*codes: int) -> dict:
    """The documented error responses for these status codes."""
    return {code: ERROR_RESPONSES[code] for code in codes}


class LatLonSerializer(serializers.Serializer):
    lat = serializers.FloatField()
    lon = serializers.FloatField()


class ApiView(APIView):
    """Authenticated volunteer endpoints, throttled per user on the general "api" scope."""

    throttle_classes = [UserScopedThrottle]
    throttle_scope = "api"

    def volunteer(self) -> Volunteer:
        return selectors.volunteer_for_user(user_id=self.request.user.pk)
