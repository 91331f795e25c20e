"""The API's JSON parser: bounded size and nesting, so a hostile body gets 400, never 500.

DRF's JSONParser reads a body of any size and hands ``json`` a nesting of any depth (about
1,000 levels raise RecursionError: a 500). This one reads at most ``API_JSON_MAX_BYTES`` and
refuses more than ``API_JSON_MAX_DEPTH`` levels of arrays and objects, each with a 400 naming
the reason.
"""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def json_depth_exceeds(data: object, limit: int) -> bool:
    """True if ``data`` nests arrays/objects deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_JSON_MAX_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise ParseError(f"JSON body too large: at most {limit} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(raw.decode(encoding))
        except RecursionError as exc:
            raise ParseError(self._too_deep()) from exc
        except ValueError as exc:  # also UnicodeDecodeError
            raise ParseError(f"JSON parse error - {exc}") from exc
        if json_depth_exceeds(data, settings.API_JSON_MAX_DEPTH):
            raise ParseError(self._too_deep())
        return data

    @staticmethod
    def _too_deep() -> str:
        return f"JSON body nested too deeply: at most {settings.API_JSON_MAX_DEPTH} levels."
