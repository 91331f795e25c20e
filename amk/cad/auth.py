"""How a CAD system authenticates: ``Authorization: Bearer hja_<prefix>_<secret>``, one of its
live API keys. The request's user is the system's service user, ``request.auth`` the key; the
rate is counted per key. A console session or a volunteer's token is no CAD key: 401."""

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from amk.cad.models import CadApiKey, CadSystem
from amk.cad.selectors import api_key_lookup
from amk.cad.services.keys import api_key_touch
from config.api import UserScopedThrottle

KEYWORD = b"bearer"


class CadKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(_("Invalid API key header."))
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(_("Invalid or revoked API key.")) from None
        key = api_key_lookup(raw_key=raw)
        if key is None:
            raise AuthenticationFailed(_("Invalid or revoked API key."))
        api_key_touch(key=key)
        return key.system.user, key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="cad"'


class IsActiveCadSystem(BasePermission):
    """A key of a CAD system; a deactivated system is refused (403) even with a live key."""

    message = "This CAD system is deactivated."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, CadApiKey):
            return False
        if not key.system.is_active:
            self.message = _("This CAD system is deactivated.")
            return False
        return True


def request_system(request) -> CadSystem:
    return request.auth.system


class CadKeyThrottle(UserScopedThrottle):
    """A fixed window per API key (config.api's counter), at CAD_API_THROTTLE_RATE."""

    def get_rate(self):
        return settings.CAD_API_THROTTLE_RATE

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, CadApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class CadKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """The schema's description of CadKeyAuthentication."""

    target_class = "amk.cad.auth.CadKeyAuthentication"
    name = "cadApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A CAD system's API key (hja_…), issued in the admin.",
        }
