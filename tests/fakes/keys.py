"""Throwaway service accounts for the fake FCM: an RSA key generated at run time, never stored."""

from __future__ import annotations

import functools
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@functools.cache
def throwaway_rsa_key() -> rsa.RSAPrivateKey:
    """One 2048-bit key per process (generating one takes tens of milliseconds)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class ServiceAccount:
    info: dict[str, Any]
    private_key: rsa.RSAPrivateKey

    @property
    def client_email(self) -> str:
        return self.info["client_email"]

    @property
    def project_id(self) -> str:
        return self.info["project_id"]

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def write(self, path: Path | str) -> Path:
        """Write the JSON key file (mode 0600) and return its path."""
        path = Path(path)
        path.write_text(json.dumps(self.info, indent=2), encoding="utf-8")
        path.chmod(0o600)
        return path


def generate_service_account(
    token_uri: str,
    *,
    project_id: str = "hjertealarm-test",
    private_key: rsa.RSAPrivateKey | None = None,
) -> ServiceAccount:
    """A service-account key like the Firebase console's, with ``token_uri`` at the fake."""
    key = private_key or throwaway_rsa_key()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    client_email = f"firebase-adminsdk-fake@{project_id}.iam.gserviceaccount.com"
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": client_email,
        "client_id": str(secrets.randbelow(10**21)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
        + client_email.replace("@", "%40"),
        "universe_domain": "googleapis.com",
    }
    return ServiceAccount(info=info, private_key=key)
