"""A fake of Google's OAuth2 token endpoint and the FCM HTTP v1 send API."""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.server import FakeProvider, FakeRequest, FakeResponse, Recorder

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth always puts Google's endpoint in "aud", whatever token_uri it posts to.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
MESSAGING_SCOPES = {
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/firebase.messaging",
}
SEND_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
TTL = re.compile(r"^\d+(\.\d{1,9})?s$")

ERRORS = {
    # status: (canonical status, FCM errorCode, message)
    400: ("INVALID_ARGUMENT", "INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: (
        "UNAUTHENTICATED",
        "THIRD_PARTY_AUTH_ERROR",
        "Request had invalid authentication credentials.",
    ),
    403: ("PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"),
    404: ("NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
    429: ("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for quota metric."),
    500: ("INTERNAL", "INTERNAL", "Internal error encountered."),
    503: ("UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."),
}


def fcm_error(status: int, message: str | None = None, error_code: str | None = None) -> dict:
    canonical, default_code, default_message = ERRORS.get(
        status, ("UNKNOWN", "UNSPECIFIED_ERROR", "Unknown error.")
    )
    return {
        "error": {
            "code": status,
            "message": message or default_message,
            "status": canonical,
            "details": [{"@type": FCM_ERROR_TYPE, "errorCode": error_code or default_code}],
        }
    }


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@dataclass(frozen=True)
class TokenGrant:
    """One OAuth2 JWT-bearer exchange the fake answered."""

    client_email: str
    claims: dict[str, Any]
    access_token: str


@dataclass(frozen=True)
class FcmPush:
    """One message the fake accepted, as FCM received it."""

    name: str
    project_id: str
    token: str
    data: dict[str, str]
    notification: dict[str, Any]
    android: dict[str, Any]
    apns: dict[str, Any]
    message: dict[str, Any] = field(repr=False)
    validate_only: bool = False


class FakeFCM(FakeProvider):
    """``POST /token`` (JWT-bearer grant) and ``POST /v1/projects/{p}/messages:send``.

    ``trust(client_email, public_key)`` registers a service account; with ``verify_signatures``
    (the default) only JWTs signed by a trusted key get a token, otherwise the claims are only
    decoded (the standalone server, where the key is not known). Faults beyond ``faults``:
    ``unregistered_tokens`` answer 404 UNREGISTERED, ``invalid_tokens`` 400 INVALID_ARGUMENT.
    """

    def __init__(self, *, seed: int = 0, verify_signatures: bool = True) -> None:
        super().__init__(seed=seed)
        self.verify_signatures = verify_signatures
        self.unregistered_tokens: set[str] = set()
        self.invalid_tokens: set[str] = set()
        self.token_grants: Recorder[TokenGrant] = Recorder()
        self.messages: Recorder[FcmPush] = Recorder()
        self._trusted: dict[str, tuple[rsa.RSAPublicKey, str | None]] = {}
        self._access_tokens: dict[str, str | None] = {}  # token → project it may send for
        self._tokens_lock = threading.Lock()

    def trust(
        self,
        client_email: str,
        public_key: rsa.RSAPublicKey | bytes | str,
        *,
        project_id: str | None = None,
    ) -> None:
        if isinstance(public_key, str):
            public_key = public_key.encode("ascii")
        if isinstance(public_key, bytes):
            public_key = serialization.load_pem_public_key(public_key)
        with self._tokens_lock:
            self._trusted[client_email] = (public_key, project_id)

    def reset(self) -> None:
        """Also forgets issued access tokens (a client holding one gets 401 and refreshes)."""
        super().reset()
        self.unregistered_tokens.clear()
        self.invalid_tokens.clear()
        self.token_grants.clear()
        self.messages.clear()
        with self._tokens_lock:
            self._access_tokens.clear()

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[FcmPush]:
        return self.messages.wait_for(count, timeout)

    def handle(self, request: FakeRequest) -> FakeResponse | None:
        if request.path == "/token":
            if request.method != "POST":
                return FakeResponse.json(405, {"error": "invalid_request"})
            return self._token(request)
        match = SEND_PATH.match(request.path)
        if match:
            if request.method != "POST":
                return FakeResponse.json(405, fcm_error(405, "Method not allowed"))
            return self._send(request, match["project"])
        return None

    # OAuth2: https://developers.google.com/identity/protocols/oauth2/service-account#httprest
    def _token(self, request: FakeRequest) -> FakeResponse:
        form = request.form()
        if form.get("grant_type") != JWT_BEARER:
            return self._grant_error("unsupported_grant_type", "Invalid grant_type.")
        try:
            header_b64, claims_b64, signature_b64 = form.get("assertion", "").split(".")
            header = json.loads(_b64url_decode(header_b64))
            claims = json.loads(_b64url_decode(claims_b64))
            signature = _b64url_decode(signature_b64)
        except ValueError:
            return self._grant_error("invalid_grant", "Invalid JWT: malformed.")
        if header.get("alg") != "RS256":
            return self._grant_error("invalid_grant", "Invalid JWT: alg must be RS256.")
        email = claims.get("iss", "")
        now = time.time()
        if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE:
            return self._grant_error("invalid_grant", "Invalid JWT: audience.")
        if not (claims.get("iat", 0) - 300 <= now < claims.get("exp", 0)):
            return self._grant_error("invalid_grant", "Invalid JWT: Token must be a short-lived.")
        if not MESSAGING_SCOPES & set(str(claims.get("scope", "")).split()):
            return self._grant_error("invalid_scope", "No messaging scope requested.")
        with self._tokens_lock:
            trusted = self._trusted.get(email)
        project_id = trusted[1] if trusted else None
        if self.verify_signatures:
            if trusted is None:
                return self._grant_error("invalid_grant", "Invalid JWT Signature.")
            try:
                trusted[0].verify(
                    signature,
                    f"{header_b64}.{claims_b64}".encode("ascii"),
                    padding.PKCS1v15(),
                    hashes.SHA256(),
                )
            except InvalidSignature:
                return self._grant_error("invalid_grant", "Invalid JWT Signature.")
        access_token = "ya29.fake-" + secrets.token_urlsafe(32)
        with self._tokens_lock:
            self._access_tokens[access_token] = project_id
        self.token_grants.append(TokenGrant(email, claims, access_token))
        return FakeResponse.json(
            200, {"access_token": access_token, "expires_in": 3600, "token_type": "Bearer"}
        )

    @staticmethod
    def _grant_error(error: str, description: str) -> FakeResponse:
        return FakeResponse.json(400, {"error": error, "error_description": description})

    # FCM v1: https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send
    def _send(self, request: FakeRequest, project: str) -> FakeResponse:
        authorization = request.headers.get("Authorization", "")
        access_token = authorization.removeprefix("Bearer ").strip()
        with self._tokens_lock:
            known = authorization.startswith("Bearer ") and access_token in self._access_tokens
            allowed_project = self._access_tokens.get(access_token)
        if not known:
            return FakeResponse.json(
                401,
                {
                    "error": {
                        "code": 401,
                        "message": "Request had invalid authentication credentials. "
                        "Expected OAuth 2 access token.",
                        "status": "UNAUTHENTICATED",
                    }
                },
            )
        if allowed_project is not None and allowed_project != project:
            return FakeResponse.json(
                403,
                {
                    "error": {
                        "code": 403,
                        "message": f"Permission denied on project {project}.",
                        "status": "PERMISSION_DENIED",
                    }
                },
            )
        try:
            payload = request.json()
        except ValueError:
            payload = None
        target = payload.get("message", {}) if isinstance(payload, dict) else {}
        if not self.delay():
            return FakeResponse.json(503, fcm_error(503))
        if self.should_fail(str(target.get("token", "")) if isinstance(target, dict) else ""):
            return FakeResponse.json(self.faults.error_status, fcm_error(self.faults.error_status))
        if payload is None:
            return FakeResponse.json(400, fcm_error(400, "Invalid JSON payload received."))
        problem = self._invalid(payload)
        if problem:
            return FakeResponse.json(400, fcm_error(400, problem))
        message = payload["message"]
        token = message["token"]
        if token in self.invalid_tokens:
            return FakeResponse.json(
                400,
                fcm_error(400, "The registration token is not a valid FCM registration token"),
            )
        if token in self.unregistered_tokens:
            return FakeResponse.json(404, fcm_error(404))
        name = f"projects/{project}/messages/0:{time.time_ns() // 1000}%{secrets.token_hex(8)}"
        self.messages.append(
            FcmPush(
                name=name,
                project_id=project,
                token=token,
                data=dict(message.get("data", {})),
                notification=dict(message.get("notification", {})),
                android=dict(message.get("android", {})),
                apns=dict(message.get("apns", {})),
                message=message,
                validate_only=bool(payload.get("validate_only")),
            )
        )
        return FakeResponse.json(200, {"name": name})

    @staticmethod
    def _invalid(payload: Any) -> str | None:
        """Why the body is not a v1 send request we accept, or None."""
        if not isinstance(payload, dict) or not isinstance(payload.get("message"), dict):
            return "Invalid JSON payload received. Unknown name or missing 'message'."
        message = payload["message"]
        targets = [name for name in ("token", "topic", "condition") if name in message]
        if targets != ["token"] or not isinstance(message["token"], str) or not message["token"]:
            return "Invalid value at 'message' (oneof field 'target'): a token is required."
        data = message.get("data", {})
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            return "Invalid value at 'message.data': values must be strings."
        android = message.get("android", {})
        if not isinstance(android, dict):
            return "Invalid value at 'message.android'."
        if android.get("priority", "normal") not in {"normal", "high"}:
            return f"Invalid value at 'message.android.priority' ({android.get('priority')!r})."
        if "ttl" in android and not TTL.match(str(android["ttl"])):
            return f"Invalid value at 'message.android.ttl' ({android['ttl']!r})."
        apns = message.get("apns", {})
        headers = apns.get("headers", {}) if isinstance(apns, dict) else None
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            return "Invalid value at 'message.apns.headers': values must be strings."
        return None
