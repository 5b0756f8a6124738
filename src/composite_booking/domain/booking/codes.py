"""Confirmation codes: short, unambiguous when read aloud or typed, unique per company."""

from __future__ import annotations

import secrets

# No 0/O, 1/I/L, 5/S or 8/B: a customer reading the code on the phone cannot confuse two of them.
ALPHABET = "ACDEFGHJKMNPQRTUVWXY234679"
LENGTH = 8


def new_confirmation_code() -> str:
    """`K7Q2-M9XR`: 8 symbols (26^8 ≈ 2·10^11), so a collision within one company is practically never."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{symbols[:4]}-{symbols[4:]}"


def normalize_confirmation_code(text: str) -> str:
    """What a person typed (`k7q2 m9xr`, `K7Q2M9XR`) → the stored form `K7Q2-M9XR`."""
    symbols = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(symbols) != LENGTH:
        return text.strip().upper()
    return f"{symbols[:4]}-{symbols[4:]}"
