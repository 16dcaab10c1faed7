"""One-time codes (TOTP, RFC 6238) as portals configure them, and single use across workers.

Portals differ: SHA-1/SHA-256/SHA-512, 6 or 8 digits, 30 or 60 seconds, a seed in base32 (the
usual), hex or plain text. :class:`TotpSpec` says which; :func:`one_time_code` makes a code.

A portal that refuses a replayed code refuses the second worker that signs in within the same
window with the same code. :func:`fresh_code` hands each code out once per process: a second
caller in the same window waits for the next one (at most one period).
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from typing import Literal

import pyotp
from pydantic import BaseModel, ConfigDict, Field

from portals.errors import AuthenticationFailed


class TotpSpec(BaseModel):
    """How a portal's one-time codes are made."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["sha1", "sha256", "sha512"] = Field("sha1", description="HMAC hash")
    digits: int = Field(6, ge=6, le=10, description="code length")
    period: int = Field(30, ge=1, description="seconds a code lives")
    encoding: Literal["base32", "hex", "ascii"] = Field("base32", description="seed encoding")


def _seed_base32(seed: str, encoding: str) -> str:
    """The seed as the base32 text pyotp wants; AuthenticationFailed when it is not valid."""
    try:
        if encoding == "hex":
            raw = bytes.fromhex(seed.replace(" ", ""))
        elif encoding == "ascii":
            raw = seed.encode("utf-8")
        else:
            cleaned = seed.replace(" ", "").upper()
            base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
            return cleaned
    except ValueError as err:
        raise AuthenticationFailed(f"the TOTP seed is not valid {encoding}", step="totp") from err
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def totp(seed: str, spec: TotpSpec | None = None) -> pyotp.TOTP:
    """A pyotp TOTP for ``seed`` made as ``spec`` says."""
    spec = spec or TotpSpec()
    try:
        return pyotp.TOTP(
            _seed_base32(seed, spec.encoding),
            digits=spec.digits,
            digest=getattr(hashlib, spec.algorithm),
            interval=spec.period,
        )
    except ValueError as err:  # e.g. a seed shorter than 112 bits
        raise AuthenticationFailed(f"the TOTP seed is refused: {err}", step="totp") from err


def one_time_code(seed: str, spec: TotpSpec | None = None, at: float | None = None) -> str:
    """The code for ``seed`` at time ``at`` (now when None)."""
    return totp(seed, spec).at(at if at is not None else time.time())


_used: dict[str, int] = {}
_lock = threading.Lock()


def fresh_code(seed: str, spec: TotpSpec | None = None) -> str:
    """A code no other caller of this process has been given: waits for the next window when
    this window's code is taken (a portal refusing replays would refuse it)."""
    spec = spec or TotpSpec()
    key = hashlib.sha256(f"{spec.model_dump_json()}|{seed}".encode()).hexdigest()
    with _lock:
        now = time.time()
        window = int(now // spec.period)
        if _used.get(key, -1) >= window:
            window = _used[key] + 1
            time.sleep(max(0.0, window * spec.period - now) + 0.05)  # ok: the next code's window
        _used[key] = window
        return one_time_code(seed, spec, at=window * spec.period + 0.5)
