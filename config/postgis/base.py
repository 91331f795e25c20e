"""Django's PostGIS backend with a health check that costs no round trip when nothing happened.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query of every request
on a reused connection: on the location endpoint that was one of five round trips. Here the
check first looks at the socket without waiting: an idle, healthy connection has nothing to
read. A server that ended the session (restart, ``pg_terminate_backend``, idle timeout) sends
an error and closes the socket, which makes it readable, and only then does the full check
(``SELECT 1``) run, and fail, so Django reconnects as before.
"""

from __future__ import annotations

import select

from django.contrib.gis.db.backends.postgis.base import DatabaseWrapper as PostGISDatabaseWrapper


class DatabaseWrapper(PostGISDatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        try:
            readable, _w, _x = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        if readable:  # a notice, or the server hanging up: ask the server
            return super().is_usable()
        return True

    def init_connection_state(self) -> None:
        super().init_connection_state()
        self.prepared_statements: set[str] = set()  # a new session has none
