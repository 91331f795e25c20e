"""Web security that is not a view: Content-Security-Policy and log redaction (the login
lock-out is in config/lockout.py). Nothing here imports models: logging loads it early.

- ``ContentSecurityPolicyMiddleware``: the console, login and public pages load only
  same-origin scripts and styles (no inline code); the admin and the API docs, whose
  third-party templates use inline code, get a policy that allows inline but nothing foreign.
- ``PersonalDataFilter``: a logging filter that masks phone numbers, coordinates and tokens
  in every log line, whoever logs them (our code, Celery, the twilio and firebase clients,
  runserver's request lines), and every coordinate query parameter of a URL whatever its
  precision; ``redact`` also cleans gunicorn's access log (config/gunicorn.py).
"""

from __future__ import annotations

import logging
import re

# --- Content-Security-Policy ------------------------------------------------------------------

STRICT_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https:",  # map tiles come from the configured tile servers
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Django admin with django-leaflet's map widgets and drf-spectacular's Swagger UI render inline
# <script> and style attributes; they are staff-only or static, and still same-origin only.
RELAXED_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: https:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
RELAXED_PREFIXES = ("/admin/", "/api/docs/")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            relaxed = request.path.startswith(RELAXED_PREFIXES)
            response["Content-Security-Policy"] = RELAXED_CSP if relaxed else STRICT_CSP
        return response


# --- Logs without personal data ---------------------------------------------------------------

# Query parameters that carry a position, whatever their precision (?lat=56.15&lon=10.2,
# bbox=..., the URL-encoded form of a point): a URL in a log line names no place.
COORDINATE_PARAMETERS = (
    "lat",
    "lon",
    "lng",
    "long",
    "latitude",
    "longitude",
    "bbox",
    "point",
    "location",
    "position",
    "near",
    "center",
    "centre",
    "coords",
    "coordinates",
)

_COORDINATE_NAMES = "|".join(COORDINATE_PARAMETERS)

_REDACTIONS = [
    (re.compile(rf"(?i)(?<![\w.\-])((?:{_COORDINATE_NAMES})=)[^&;#\s\"']*"), r"\1[coord]"),
    # Authorization headers, then key=value or "key": "value" pairs.
    (re.compile(r"(?i)\b(Token|Bearer|Basic)\s+[A-Za-z0-9._\-+/=]{8,}"), r"\1 [redacted]"),
    (
        re.compile(
            r"(?i)\b((?:token|push_token|registration_token|auth_token|authorization|password|"
            r"secret|code|cabinet_code)[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&}]+)"
        ),
        r"\1[redacted]",
    ),
    # Phone numbers: +45 12 34 56 78, +4512345678, %2B4512345678 (URL-encoded).
    (re.compile(r"(?:\+|%2B)\d[\d \-]{6,16}\d"), "[phone]"),
    # Coordinates with more than 3 decimals (about 100 m): 56.15674, 10.21076.
    (re.compile(r"(?<![\w.])-?\d{1,3}\.\d{4,}(?![\w.])"), "[coord]"),
    # Long opaque strings that look like FCM registration tokens.
    (re.compile(r"\b[A-Za-z0-9_\-]{20,}:[A-Za-z0-9_\-]{30,}\b"), "[token]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class PersonalDataFilter(logging.Filter):
    """Mask personal data in the final message (and the traceback) of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
