"""gunicorn settings (``gunicorn -c config/gunicorn.py config.wsgi``); environment overrides.

gthread keeps client connections alive (sync workers close each one); a few processes use both
cores, a few threads each overlap the database and Redis round trips. Chosen by bench/.
The access log (when switched on) goes through RedactingLogger below: no coordinates, phone
numbers or tokens in a logged URL.
"""

import os

from gunicorn.glogging import Logger

from config.logs import JsonFormatter
from config.security import redact

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
backlog = 2048
# Off unless asked for ("-": standard output), as the benchmarks ran; redacted when on.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
logger_class = "config.gunicorn.RedactingLogger"


class RedactingLogger(Logger):
    """gunicorn's logger, with every access-log atom (request line, query string, referer,
    headers) passed through config.security.redact: no coordinates, phone numbers or tokens in
    the access log (``--logger-class config.gunicorn.RedactingLogger`` without this file)."""

    def setup(self, cfg):
        """gunicorn's own lines (start, worker time-outs, the access log) as JSON too, when
        the platform logs JSON (LOG_FORMAT, by default in production: config.settings_ops)."""
        super().setup(cfg)
        local = os.environ.get("APP_MODE", "production") in {"demo", "test"}
        if os.environ.get("LOG_FORMAT", "plain" if local else "json") == "json":
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    if getattr(handler, "_gunicorn", False):  # not handlers Django's LOGGING set
                        handler.setFormatter(JsonFormatter())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(v) if isinstance(v, str) else v for key, v in atoms.items()}


def post_worker_init(worker):
    """Build the outline of Denmark the location check uses (0.8 s of GEOS unions) before the
    worker takes requests: otherwise the first location updates of each worker wait for it,
    several threads build it at once, and wrk saw timeouts right after a start."""
    from config.geography import within_denmark  # noqa: PLC0415  gunicorn hook: Django in the worker only

    within_denmark(lon=10.2, lat=56.15)
