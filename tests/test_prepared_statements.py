"""config.postgis.prepared: planned once per database session, and recovered when a pooler or
a DISCARD ALL dropped it from the session."""

import pytest
from django.db import connection

from config.postgis.prepared import PreparedStatement

SUM = PreparedStatement("test_sum", "SELECT %(a)s::integer + %(b)s::integer + %(a)s::integer")
TYPED = PreparedStatement(
    "test_typed", "SELECT %(when)s - %(span)s", types={"when": "timestamptz", "span": "interval"}
)


def _prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def _run(statement: PreparedStatement, params: dict):
    with connection.cursor() as cursor:
        statement.execute(cursor, params)
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_named_placeholders_become_positional_and_repeat():
    assert _run(SUM, {"a": 2, "b": 10}) == 14
    assert _run(SUM, {"a": 1, "b": 1}) == 3
    assert "test_sum" in _prepared_names()


@pytest.mark.django_db
def test_types_can_be_given_instead_of_casts():
    import datetime as dt

    when = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    assert _run(TYPED, {"when": when, "span": dt.timedelta(hours=1)}) == when - dt.timedelta(
        hours=1
    )


@pytest.mark.django_db(transaction=True)
def test_a_session_that_lost_it_prepares_it_again():
    assert _run(SUM, {"a": 1, "b": 2}) == 4
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what a pooler's DISCARD ALL does to it
    assert "test_sum" not in _prepared_names()
    assert _run(SUM, {"a": 1, "b": 2}) == 4
    assert "test_sum" in _prepared_names()


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_it_again():
    assert _run(SUM, {"a": 0, "b": 1}) == 1
    connection.close()
    assert _run(SUM, {"a": 0, "b": 1}) == 1
    assert "test_sum" in _prepared_names()
