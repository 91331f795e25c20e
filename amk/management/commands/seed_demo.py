import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from amk.access import DISPATCHERS_GROUP
from amk.services.accounts import demo_accounts_ensure
from config.imports import ReportingCommand

DEFAULT_DEMO_PASSWORD = "hjertealarm-demo"  # noqa: S105  demo only, printed; overridden by env


class Command(ReportingCommand):
    help = (
        "Everything a demo needs, idempotently: geography, local areas, synthetic volunteers, "
        "AEDs and addresses (default sizes), landmarks, a dispatcher (group Dispatchers) and an "
        "admin account. "
        "Passwords: DEMO_DISPATCHER_PASSWORD and DEMO_ADMIN_PASSWORD, by default "
        f"'{DEFAULT_DEMO_PASSWORD}' (outside production only)."
    )

    def run(self, **options) -> None:
        passwords = {
            "dispatcher": os.environ.get("DEMO_DISPATCHER_PASSWORD"),
            "admin": os.environ.get("DEMO_ADMIN_PASSWORD"),
        }
        if settings.APP_MODE == "production" and not all(passwords.values()):
            raise CommandError(
                "In production, set DEMO_DISPATCHER_PASSWORD and DEMO_ADMIN_PASSWORD."
            )
        passwords = {
            user: password or DEFAULT_DEMO_PASSWORD for user, password in passwords.items()
        }
        verbosity = options["verbosity"]
        for command in (
            "load_geography",
            "load_local_areas",
            "generate_demo_data",
            "load_demo_addresses",
        ):
            self.progress(f"== {command}")
            call_command(command, verbosity=verbosity, stdout=self.stdout, stderr=self.stderr)
        demo_accounts_ensure(
            dispatcher_password=passwords["dispatcher"], admin_password=passwords["admin"]
        )
        self.stdout.write(self.style.SUCCESS("Demo accounts:"))
        self.stdout.write(f"  dispatcher / {passwords['dispatcher']}  (group {DISPATCHERS_GROUP})")
        self.stdout.write(f"  admin / {passwords['admin']}  (superuser)")
        if settings.OTP_REQUIRED:
            self.stdout.write(
                "  Second factor on (OTP_REQUIRED): the first login shows a QR code and the key"
                " for an authenticator app."
            )
        else:
            self.stdout.write("  Second factor off (OTP_REQUIRED=False): the password is enough.")
