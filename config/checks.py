"""Deployment checks that ask the database (``manage.py check --deploy --database default``):
the application's role is not a superuser, and the database is UTF-8."""

from django.core.checks import Error, Tags, Warning, register
from django.db import connections


@register(Tags.database, deploy=True)
def database_role_and_encoding(app_configs, databases=None, **kwargs):
    problems = []
    for alias in databases or ():
        with connections[alias].cursor() as cursor:
            cursor.execute(
                "SELECT r.rolsuper, pg_encoding_to_char(d.encoding) FROM pg_roles r, pg_database d"
                " WHERE r.rolname = current_user AND d.datname = current_database()"
            )
            superuser, encoding = cursor.fetchone()
        if superuser:
            problems.append(
                Warning(
                    f"The application connects to the database {alias!r} as a superuser.",
                    hint="Connect as a role that only owns its database: deploy/db-init.sh "
                    "creates one and the extensions (as the admin).",
                    id="config.W001",
                )
            )
        if encoding != "UTF8":
            problems.append(
                Error(
                    f"The database {alias!r} is encoded in {encoding}, not UTF-8.",
                    hint="Create it with ENCODING 'UTF8' TEMPLATE template0 (deploy/db-init.sh).",
                    id="config.E001",
                )
            )
    return problems
