"""Error reporting to Sentry (or a compatible server such as GlitchTip), off without a DSN.

What leaves the platform is the error and its stack, never who or where: no user, IP, cookies
or request bodies (``send_default_pii=False``, bodies never), local variables off, and every
string of the event passed through config.security.redact (phone numbers, coordinates,
tokens) before it is sent, as the logs are.
"""

from __future__ import annotations

from typing import Any

from config.logs import log_context
from config.security import redact

# Keys whose values are dropped outright wherever they appear in an event.
_DROPPED_KEYS = frozenset(
    {
        "address",
        "address_text",
        "location",
        "position",
        "lat",
        "lon",
        "latitude",
        "longitude",
        "phone",
        "cookies",
        "data",
        "env",
        "user",
    }
)


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 20:
        return "[deep]"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            k: "[redacted]" if k in _DROPPED_KEYS else _scrub(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v, depth + 1) for v in value]
    return value


def before_send(event: dict, hint: dict) -> dict:
    """The event with personal data masked, tagged with the incident/alert being worked on
    (the same ids as the log lines: config.logs)."""
    event = _scrub(event)
    ids = log_context()
    if ids:
        event["tags"] = {**(event.get("tags") or {}), **{k: str(v) for k, v in ids.items()}}
    return event


def before_breadcrumb(crumb: dict, hint: dict) -> dict:
    return _scrub(crumb)


def sentry_init(*, dsn: str, environment: str, traces_sample_rate: float) -> bool:
    """Start the SDK with the Django and Celery integrations when a DSN is given; else nothing.

    Called from the settings, so every process (gunicorn, the worker, beat, manage.py) reports.
    """
    if not dsn:
        return False
    import sentry_sdk  # noqa: PLC0415  only when reporting is on
    from sentry_sdk.integrations.celery import CeleryIntegration  # noqa: PLC0415
    from sentry_sdk.integrations.django import DjangoIntegration  # noqa: PLC0415

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=False)],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=traces_sample_rate or None,
        before_send=before_send,
        before_send_transaction=before_send,  # when tracing is on: URLs and spans scrubbed too
        before_breadcrumb=before_breadcrumb,
    )
    return True
