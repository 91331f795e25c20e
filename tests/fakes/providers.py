"""Both fakes on one port, as a process: ``python -m tests.fakes.providers --port 8900``.

For benchmarks and the demo. Point the app at it with::

    SMS_BACKEND=alerts.channels.twilio.TwilioSmsBackend
    TWILIO_API_BASE=http://127.0.0.1:8900  TWILIO_ACCOUNT_SID=<--account-sid>
    TWILIO_AUTH_TOKEN=<--auth-token>  TWILIO_FROM=+4570000000
    PUSH_BACKEND=alerts.channels.fcm.FcmPushBackend
    FCM_API_BASE=http://127.0.0.1:8900  FIREBASE_CREDENTIALS_FILE=<--write-service-account>

``--write-service-account PATH`` writes a throwaway service-account key whose token_uri is this
server; JWTs signed with it are verified. Without it, any well-formed JWT is accepted (claims
only). Faults apply to the message endpoints of both fakes.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from tests.fakes.fcm_server import FakeFCM
from tests.fakes.keys import generate_service_account
from tests.fakes.server import Faults, ProviderServer
from tests.fakes.twilio_server import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilio


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--write-service-account", metavar="PATH")
    parser.add_argument("--project-id", default="hjertealarm-demo")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share answered 5xx")
    parser.add_argument("--error-every", type=int, default=0, help="every n-th request 5xx")
    parser.add_argument("--error-status", type=int, default=503)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before answering")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--status-callbacks",
        default="sent,delivered",
        help="statuses posted to each SMS's StatusCallback ('' for none)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)

    twilio = FakeTwilio(
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        seed=args.seed,
        auto_status_callbacks=tuple(s for s in args.status_callbacks.split(",") if s),
    )
    fcm = FakeFCM(seed=args.seed, verify_signatures=bool(args.write_service_account))
    faults = Faults(
        error_rate=args.error_rate,
        error_every=args.error_every,
        error_status=args.error_status,
        delay_s=args.delay,
    )
    twilio.faults = faults
    fcm.faults = Faults(**vars(faults))
    server = ProviderServer([twilio, fcm], host=args.host, port=args.port).start()
    if args.write_service_account:
        account = generate_service_account(f"{server.base_url}/token", project_id=args.project_id)
        account.write(args.write_service_account)
        fcm.trust(account.client_email, account.public_key, project_id=account.project_id)
    print(f"fake providers listening on {server.base_url}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
