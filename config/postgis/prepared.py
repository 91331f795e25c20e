"""Server-side prepared statements for the hottest queries: planned once per connection.

Planning the hottest statements (the location update's four CTEs) costs more than running them
(figures in docs/benchmarks.md), on every request. A statement here is prepared on the first use in
each database session and executed by name after that; PostgreSQL switches to a generic plan
after five executions when it is as good (plan_cache_mode auto).

The SQL uses Django's ``%(name)s`` placeholders; PostgreSQL must know each one's type when
preparing: from ``types`` (name → SQL type), or from a cast in the SQL
(``%(now)s::timestamptz``). Behind PgBouncer in transaction mode, prepared statements need
PgBouncer 1.21 or later with ``max_prepared_statements`` set.
"""

from __future__ import annotations

import re

from django.db import DatabaseError, connection
from psycopg2.errors import InvalidSqlStatementName

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class PreparedStatement:
    def __init__(self, name: str, sql: str, *, types: dict[str, str] | None = None):
        self.name = name
        self.arg_names: list[str] = list(types or {})

        def positional(match: re.Match) -> str:
            if match.group(1) not in self.arg_names:
                self.arg_names.append(match.group(1))
            return f"${self.arg_names.index(match.group(1)) + 1}"

        self.body = _PLACEHOLDER.sub(positional, sql)
        if types:
            self.body = f"({', '.join(types[name] for name in self.arg_names)}) AS {self.body}"
        else:
            self.body = f"AS {self.body}"
        self._execute = f"EXECUTE {name}({', '.join(['%s'] * len(self.arg_names))})"

    def execute(self, cursor, params: dict, *, prefix: str = "") -> None:
        """Run it with ``params``; ``prefix`` (e.g. a ``SET LOCAL``) goes in the same query."""
        args = [params[name] for name in self.arg_names]
        if self.name not in connection.prepared_statements:
            self._prepare(cursor)
        try:
            cursor.execute(prefix + self._execute, args)
        except DatabaseError as error:
            # The session lost it (DISCARD ALL from a pooler): prepare again, where that is safe.
            lost = isinstance(error.__cause__, InvalidSqlStatementName)
            if not lost or connection.in_atomic_block:
                raise
            self._prepare(cursor)
            cursor.execute(prefix + self._execute, args)

    def _prepare(self, cursor) -> None:
        cursor.execute(f"PREPARE {self.name} {self.body}")
        connection.prepared_statements.add(self.name)
