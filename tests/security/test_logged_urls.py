"""No coordinates in logged URLs (issue 15, point 4): the nearby-AEDs endpoint takes
``?lat=&lon=``; the request line, query string and referer reach the logs (gunicorn's access
log, runserver's request log) only with every coordinate parameter masked, whatever its
precision."""

import datetime as dt
import io
import logging
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from config.gunicorn import RedactingLogger
from config.security import COORDINATE_PARAMETERS, PersonalDataFilter, redact

URL = "/api/v1/aeds/?lat=56.15&lon=10.2&radius_m=1500"


@pytest.mark.parametrize(
    "url",
    [
        URL,
        "/api/v1/aeds/?radius_m=1500&lon=10.2108&lat=56.1567",
        "/x/?LAT=56&LON=10",
        "/x/?lat=56.1%2C10.2&bbox=10.1,56.1,10.3,56.2",
        "/x/?latitude=-33.9&longitude=151.2#map",
        "/x/?lng=10.21;lat=56.15",
        "/x/?point=POINT(10.2%2056.1)",
    ],
)
def test_coordinate_query_parameters_are_masked_whatever_their_precision(url):
    cleaned = redact(f'"GET {url} HTTP/1.1" 200 12')
    for digits in ("56", "10.2", "151", "33.9"):
        assert digits not in cleaned.replace("1500", "")
    assert "[coord]" in cleaned


def test_other_parameters_and_the_path_stay_readable():
    assert redact(f"GET {URL}") == "GET /api/v1/aeds/?lat=[coord]&lon=[coord]&radius_m=1500"
    assert redact("/x/?translate=1&platform=ios") == "/x/?translate=1&platform=ios"
    assert {"lat", "lon", "lng", "latitude", "longitude", "bbox"} <= set(COORDINATE_PARAMETERS)


def _gunicorn_access_line(environ_extra: dict) -> str:
    cfg = Config()
    cfg.set("accesslog", "-")
    log = RedactingLogger(cfg)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log.access_log.addHandler(handler)
    try:
        environ = {
            "REQUEST_METHOD": "GET",
            "RAW_URI": URL,
            "PATH_INFO": "/api/v1/aeds/",
            "QUERY_STRING": URL.split("?", 1)[1],
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "10.0.0.1",
            "HTTP_REFERER": "https://app.example/map?lat=56.15&lon=10.2",
            **environ_extra,
        }
        resp = SimpleNamespace(status="200 OK", sent=12, headers=[])
        req = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
        log.access(resp, req, environ, dt.timedelta(milliseconds=3))
    finally:
        log.access_log.removeHandler(handler)
    return stream.getvalue()


def test_gunicorns_access_log_carries_no_coordinates():
    line = _gunicorn_access_line({})
    assert "GET /api/v1/aeds/?lat=[coord]&lon=[coord]&radius_m=1500 HTTP/1.1" in line
    assert "56.15" not in line
    assert "10.2" not in line


def test_gunicorns_access_log_format_with_the_query_string_and_headers_is_masked_too():
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", '%(U)s?%(q)s "%({referer}i)s" %({query_string}e)s')
    log = RedactingLogger(cfg)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log.access_log.addHandler(handler)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": URL,
        "PATH_INFO": "/api/v1/aeds/",
        "QUERY_STRING": "lat=56.15&lon=10.2",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    req = SimpleNamespace(headers=[("REFERER", "/board/?lat=56.15&lon=10.2")])
    log.access(SimpleNamespace(status="200 OK", sent=1, headers=[]), req, environ, dt.timedelta(0))
    log.access_log.removeHandler(handler)
    line = stream.getvalue()
    assert line.count("[coord]") == 6
    assert "56.15" not in line


def test_the_gunicorn_settings_and_images_use_the_redacting_logger():
    from pathlib import Path

    from config import gunicorn as settings_file

    assert settings_file.logger_class == "config.gunicorn.RedactingLogger"
    root = Path(__file__).resolve().parents[2]
    for name in ("Dockerfile", "docker-compose.yml"):
        # Both start gunicorn with the settings file, which sets the logger class.
        text = (root / name).read_text()
        assert '"gunicorn", "-c", "config/gunicorn.py"' in text, name


def test_runservers_request_lines_go_through_the_filter():
    logger = logging.getLogger("django.server")
    handlers = [
        h for h in logger.handlers if any(isinstance(f, PersonalDataFilter) for f in h.filters)
    ]
    assert handlers
    assert logger.propagate is False
    handler = handlers[0]
    stream = io.StringIO()
    old = handler.setStream(stream)
    try:
        logger.info('"%s" %s %s', f"GET {URL} HTTP/1.1", "200", "12")
    finally:
        handler.setStream(old)
    line = stream.getvalue()
    assert "lat=[coord]&lon=[coord]" in line
    assert "56.15" not in line
