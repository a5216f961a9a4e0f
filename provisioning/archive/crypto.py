"""Client-side AES-256-GCM for archive objects, with the key read from an environment variable.

Stored form: b"TLAGCM1" + 12-byte nonce + ciphertext + 16-byte tag; the object's key (relative to the prefix)
is authenticated as associated data, so an object copied under another key does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from provisioning.errors import TracklogError

ALGORITHM = "AES-256-GCM"
MAGIC = b"TLAGCM1"
NONCE_BYTES = 12


class EncryptionError(TracklogError):
    """The key is missing or malformed, the package is absent, or an object does not decrypt."""


def available() -> bool:
    try:
        import cryptography.hazmat.primitives.ciphers.aead  # noqa: F401
    except ImportError:
        return False
    return True


def load_key(env_name: str) -> bytes:
    """The 32-byte key in ``$env_name`` (base64 or 64 hex digits); errors name the variable, never the value."""
    if not available():
        raise EncryptionError("client-side encryption needs the `cryptography` package (pip install cryptography)")
    text = os.environ.get(env_name, "").strip()
    if not text:
        raise EncryptionError(f"the encryption key variable ${env_name} is not set")
    key = _parse_key(text)
    if key is None:
        raise EncryptionError(f"${env_name} must hold a 32-byte key as base64 or 64 hex digits (make one with "
                              "python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())')")
    return key


def _parse_key(text: str) -> bytes | None:
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            key = decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            continue
        if len(key) == 32:
            return key
    return None


def key_id(key: bytes) -> str:
    """A short fingerprint that tells keys apart without revealing them."""
    return hashlib.sha256(b"tracklog-archive-key-id\0" + key).hexdigest()[:16]


def encrypt(data: bytes, key: bytes, associated: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, data, associated.encode())


def decrypt(blob: bytes, key: bytes, associated: str) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + NONCE_BYTES + 16:
        raise EncryptionError(f"{associated}: not an encrypted archive object")
    nonce = blob[len(MAGIC):len(MAGIC) + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, blob[len(MAGIC) + NONCE_BYTES:], associated.encode())
    except InvalidTag:
        raise EncryptionError(f"{associated}: does not decrypt (wrong key, or the object was altered)") from None
