"""Structured logs: a JSON formatter, and the incident or alert a line belongs to.

The ids live in context variables: the Celery task entry points set them from the task's
arguments (``incident_id``, ``alert_id``: connected in config.celery), the request handling
from the URL (``LogContextMiddleware``), and ``LogContextFilter`` adds them to every record, so
``grep incident_id=42`` (plain) or ``jq 'select(.incident_id==42)'`` (JSON) follows one
incident through the web and the worker. Nothing here imports models.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import inspect
import json
import logging
from typing import Any

from django.core.signals import request_finished, request_started

CONTEXT_KEYS = ("incident_id", "alert_id")
_context: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar(
    "hjertealarm_log_context", default=None
)


def log_context_set(**ids: Any) -> contextvars.Token:
    """Name the incident/alert being worked on (ids that are not whole numbers are ignored)."""
    clean = {}
    for key in CONTEXT_KEYS:
        value = ids.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            clean[key] = value
        elif isinstance(value, str) and value.isdigit():
            clean[key] = int(value)
    return _context.set(clean or None)


def log_context_reset(token: contextvars.Token | None = None) -> None:
    if token is not None:
        _context.reset(token)
    else:
        _context.set(None)


def log_context() -> dict[str, int]:
    return dict(_context.get() or {})


class LogContextFilter(logging.Filter):
    """Adds ``incident_id`` and ``alert_id`` to a record (None when not known); in plain
    text they are appended to the message, so both formats carry them."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _context.get() or {}
        for key in CONTEXT_KEYS:
            if not hasattr(record, key):
                setattr(record, key, ids.get(key))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts (UTC, ISO 8601), level, logger, message, the ids when known,
    the exception's traceback (already redacted by the filter) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainContextFormatter(logging.Formatter):
    """The plain format, with ``incident_id=… alert_id=…`` after the message when known."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)  # before the traceback, which format() appends
        ids = " ".join(
            f"{key}={getattr(record, key)}"
            for key in CONTEXT_KEYS
            if getattr(record, key, None) is not None
        )
        return f"{line} {ids}" if ids else line


def _request_context_clear(**_extra) -> None:
    log_context_reset()


class LogContextMiddleware:
    """Requests to an incident's or alert's URL log with its id (the URL's keyword arguments
    ``incident_id`` and ``alert_id``: the console's incident pages, the app's alert API).

    The ids are cleared when a request starts and when its response is closed, not when this
    middleware returns: Django logs a request's 4xx/5xx line after the middleware chain, and
    that line belongs to the incident too.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        request_started.connect(_request_context_clear, dispatch_uid="log_context_started")
        request_finished.connect(_request_context_clear, dispatch_uid="log_context_finished")

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if any(view_kwargs.get(key) is not None for key in CONTEXT_KEYS):
            log_context_set(**view_kwargs)


def task_context_set(sender=None, task=None, args=None, kwargs=None, **_extra) -> None:
    """Celery ``task_prerun``: the ids among the task's arguments, by parameter name."""
    try:
        bound = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {}))
        arguments = bound.arguments
    except (TypeError, ValueError, AttributeError):
        arguments = dict(kwargs or {})
    log_context_set(**{key: arguments.get(key) for key in CONTEXT_KEYS})


def task_context_clear(**_extra) -> None:
    """Celery ``task_postrun``: the next task on this worker starts without ids."""
    log_context_reset()
