"""Password login against the users table (PBKDF2-SHA256, constant time)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets

from amas_service.db import Database

__all__ = ["hash_password", "verify_login"]

_ITERATIONS = 20_000
_DUMMY = f"pbkdf2_sha256${_ITERATIONS}${'00' * 16}${'00' * 32}"


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = _ITERATIONS) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def _matches(password: str, stored: str) -> bool:
    try:
        _, iterations, salt, digest = stored.split("$")
        computed = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)


async def verify_login(db: Database, username: str, password: str) -> bool:
    """True if the password matches; an unknown user costs the same time as a wrong password."""
    stored = await db.password_hash(username)
    matches = await asyncio.to_thread(_matches, password, stored or _DUMMY)
    return stored is not None and matches
