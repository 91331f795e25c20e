"""The hottest request of the system, a phone reporting its position, answered in one query.

Every volunteer's app reports every few minutes, all day: the whole country's volunteers are
hundreds of requests a second. Through the full stack (sessions, locale, CSRF, auth and
messages middleware, DRF's request, negotiation, authentication and throttle) such a request
cost about four times the work of the update itself. The middleware below answers the usual
case, a knox token and a well-formed position, right after the security middleware: the token
check, the rate limit and the update are one statement (volunteers.services.location.
volunteer_location_update), after the position rules of volunteers.positions. Anything else, an
unknown or expired token, a position refused, too soon, a jump, no profile, goes on to LocationApi
unchanged, which answers with the same checks and words the error in the caller's language.
Nothing is stored on the way there (a jump's flag, once per stored position, is not counted
twice by the API's second look).
"""

import json

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from knox.crypto import hash_token
from knox.settings import knox_settings

from volunteers.positions import location_reading_plain
from volunteers.services.location import LocationOutcome, volunteer_location_update


def _token(request) -> str | None:
    """The knox token of an ``Authorization: Token <token>`` header, as knox itself splits it."""
    words = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(words) != 2 or words[0].lower() != knox_settings.AUTH_HEADER_PREFIX.lower():
        return None
    return words[1]


def location_report_fast(request) -> HttpResponse | None:
    """204 when the position was taken (or was older than the stored one); None otherwise."""
    token = _token(request)
    if token is None or request.content_type != "application/json":
        return None
    try:  # a large body is left to the API's parser, which refuses it (config.parsers)
        if int(request.META.get("CONTENT_LENGTH") or 0) > settings.API_JSON_MAX_BYTES:
            return None
    except ValueError:
        return None
    try:
        values = location_reading_plain(json.loads(request.body))
        digest = hash_token(token)
    except (ValueError, TypeError, RecursionError):  # not JSON, or not a knox token
        return None
    if values is None:
        return None
    result = volunteer_location_update(
        token_digest=digest,
        lon=values["lon"],
        lat=values["lat"],
        measured_at=values["measured_at"],
        accuracy_m=values["accuracy_m"],
    )
    if result.outcome in (LocationOutcome.STORED, LocationOutcome.OLDER):
        return HttpResponse(status=204)
    return None


class LocationFastPathMiddleware:
    """Place right after SecurityMiddleware (and WhiteNoise), before sessions and the rest."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.path = reverse("api:me_location")

    def __call__(self, request):
        if request.method == "POST" and request.path_info == self.path:
            response = location_report_fast(request)
            if response is not None:
                return response
        return self.get_response(request)
