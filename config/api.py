"""REST API plumbing shared by the apps: error mapping, lean token auth, throttles (per real
client address, config.client_ip), schema hooks."""

import hashlib

import phonenumbers
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from knox.auth import TokenAuthentication
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from config.client_ip import client_ip
from config.counters import THROTTLED_REQUESTS, counter_add
from config.exceptions import ApplicationError

# ApplicationError codes that mean "the request is fine, the state of things refuses it".
CONFLICT_CODES = frozenset(
    {"ended", "expired", "not_open", "out_of_range", "engaged_elsewhere", "exists", "conflict"}
)
STATUS_BY_CODE = {
    **dict.fromkeys(CONFLICT_CODES, status.HTTP_409_CONFLICT),
    "quota": status.HTTP_429_TOO_MANY_REQUESTS,  # a per-number SMS quota (code_budget)
    "budget": status.HTTP_503_SERVICE_UNAVAILABLE,  # the global SMS budget is spent
    "unavailable": status.HTTP_503_SERVICE_UNAVAILABLE,  # Twilio Verify cannot check a code now
}


def _throttled_text(wait: int | None) -> str:
    """DRF formats its wait sentence before translating it, so no catalogue ever matches."""
    if wait is None:
        return gettext("Too many requests.")
    return ngettext(
        "Too many requests. Try again in %(wait)d second.",
        "Too many requests. Try again in %(wait)d seconds.",
        wait,
    ) % {"wait": wait}


def exception_handler(exc, context):
    """DRF's handler, plus ApplicationError → 404/409/400 and Django's ValidationError → 400.

    Bodies: ``{"detail": "..."}`` or, for one field, ``{"field": ["message"]}``.
    """
    if isinstance(exc, ApplicationError):
        if exc.code == "not_found":
            return Response({"detail": exc.message}, status=status.HTTP_404_NOT_FOUND)
        code = STATUS_BY_CODE.get(exc.code, 400)
        if code == status.HTTP_429_TOO_MANY_REQUESTS:
            _throttled_count(context)
        if exc.field:
            return Response({exc.field: [exc.message]}, status=code)
        return Response({"detail": exc.message}, status=code)
    if isinstance(exc, exceptions.Throttled):
        exc.detail = exceptions.ErrorDetail(_throttled_text(exc.wait), code="throttled")
        _throttled_count(context)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            body = {
                (api_settings.NON_FIELD_ERRORS_KEY if f == "__all__" else f): [
                    str(m) for e in errors for m in e.messages
                ]
                for f, errors in exc.error_dict.items()
            }
        else:
            body = {api_settings.NON_FIELD_ERRORS_KEY: [str(m) for m in exc.messages]}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    from rest_framework.views import exception_handler as drf_exception_handler  # noqa: PLC0415  cycle: DRF's views import this module

    return drf_exception_handler(exc, context)


def _throttled_count(context) -> None:
    """A 429 for the operators' metrics (config.metrics), counted in Redis for all processes,
    by the view that refused (each has its own throttles and quotas)."""
    view = context.get("view") if context else None
    counter_add(THROTTLED_REQUESTS, view=type(view).__name__ if view is not None else "")


class LeanTokenAuthentication(TokenAuthentication):
    """Knox tokens (hashed, expiring, per device) in one query.

    Knox also scans the user's other tokens on every request to delete expired ones; here the
    retention task (volunteers.tasks.auth_cleanup_task) does that, so a request costs one SELECT.
    """

    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class _DynamicRateThrottle(SimpleRateThrottle):
    """Reads its rate from the settings at request time (so tests can change it)."""

    def __init__(self):
        pass

    def get_ident(self, request):
        # Not DRF's: that one takes X-Forwarded-For as sent unless NUM_PROXIES is set.
        return client_ip(request)

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class IpThrottle(_DynamicRateThrottle):
    """Per client address (config.client_ip: X-Forwarded-For only from trusted proxies)."""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class OtpIpThrottle(IpThrottle):
    scope = "otp_ip"


class LoginIpThrottle(IpThrottle):
    scope = "login_ip"


class PhoneThrottle(_DynamicRateThrottle):
    """Keyed by the phone number in the request body (a string or a JSON number), normalised to
    E.164 when it parses, so ``20123456``, ``"+45 20 12 34 56"`` and ``"+4520123456"`` share one
    bucket.

    The key holds a digest, not the number: no phone numbers in the cache, and no odd
    characters from hostile input in a cache key.
    """

    def get_cache_key(self, request, view):
        raw = request.data.get("phone") if hasattr(request.data, "get") else None
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)  # a JSON number: the serializer accepts it, so the throttle counts it
        if not isinstance(raw, str) or not raw.strip():
            return None
        try:
            number = phonenumbers.parse(raw, settings.PHONENUMBER_DEFAULT_REGION)
            ident = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            ident = raw.strip()
        digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}


class OtpPhoneThrottle(PhoneThrottle):
    scope = "otp_phone"


class LoginPhoneThrottle(PhoneThrottle):
    scope = "login_phone"


def _window_hit(key: str, duration: int) -> tuple[int, int]:
    """Count one request in a fixed window of ``duration`` s: (count so far, seconds left).

    One Redis round trip (INCR, EXPIRE NX and TTL pipelined) where DRF's throttle makes two
    (GET of the request history, SET of the new one) and stores a list of timestamps.
    """
    cache = caches["default"]  # the backend itself (django.core.cache.cache is a proxy)
    if not isinstance(cache, RedisCache):  # other cache backends: add, then incr
        cache.add(key, 0, duration)
        try:
            return cache.incr(key), duration
        except ValueError:  # expired between the two calls
            cache.set(key, 1, duration)
            return 1, duration
    redis_key = cache.make_and_validate_key(key)
    client = cache._cache.get_client(redis_key, write=True)  # noqa: SLF001  pinned, tests/test_patched_internals.py
    pipe = client.pipeline(transaction=False)
    pipe.incr(redis_key)
    pipe.expire(redis_key, duration, nx=True)
    pipe.ttl(redis_key)
    count, _set, ttl = pipe.execute()
    return int(count), max(int(ttl), 0)


class UserScopedThrottle(_DynamicRateThrottle):
    """Per authenticated user, for the scope named by the view's ``throttle_scope``.

    A fixed window (at most the rate's number of requests per period, counted from the first
    request of the period) in one Redis round trip; on the hot location endpoint DRF's sliding
    history cost two round trips and a pickled list per request.
    """

    # Not DRF's key: a counter, where DRF keeps a pickled list (no clash during a rolling deploy).
    cache_format = "throttle_%(scope)s_window_%(ident)s"
    wait_seconds: float | None = None

    def allow_request(self, request, view):
        self.scope = getattr(view, "throttle_scope", None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        count, seconds_left = _window_hit(key, self.duration)
        if count > self.num_requests:
            self.wait_seconds = seconds_left or self.duration
            return False
        return True

    def wait(self):
        return self.wait_seconds

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


def _auto_schema_class():
    from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema  # noqa: PLC0415  cycle, see __getattr__

    class AutoSchema(SpectacularAutoSchema):
        """Names serializers nested in a view after the view: SignUpApi.InputSerializer →
        SignUpInput (so every view can call its serializers InputSerializer/OutputSerializer)."""

        def _get_serializer_name(self, serializer, direction, *args, **kwargs):
            name = super()._get_serializer_name(serializer, direction, *args, **kwargs)
            cls = serializer.child.__class__ if hasattr(serializer, "child") else type(serializer)
            outer, _dot, _inner = cls.__qualname__.rpartition(".")
            if outer and "<" not in outer:
                name = outer.removesuffix("Api") + name
            return name

    return AutoSchema


def __getattr__(name: str):
    # Built on first use: importing drf_spectacular.openapi while DRF loads the authentication
    # classes from this module would be a circular import.
    if name == "AutoSchema":
        cls = _auto_schema_class()
        globals()["AutoSchema"] = cls
        return cls
    raise AttributeError(name)
