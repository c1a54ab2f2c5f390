"""Kyrgyz-style account numbers: 3-digit bank code + 11-digit account + 2 check digits, where
the check digits make the whole 16-digit number = 1 (mod 97), as ISO 7064 MOD 97-10 (IBAN)."""

from __future__ import annotations

import re

_SHAPE = re.compile(r"^\d{16}$")


def check_digits(first14: str) -> str:
    return f"{98 - int(first14) * 100 % 97:02d}"


def make_account_number(bank_code: str, serial: int) -> str:
    if not re.fullmatch(r"\d{3}", bank_code) or not 0 <= serial < 10**11:
        raise ValueError("bank code is 3 digits and the serial at most 11 digits")
    first14 = f"{bank_code}{serial:011d}"
    return first14 + check_digits(first14)


def account_number_problem(number: str) -> str | None:
    """Why `number` is not a valid account number, or None if it is."""
    if not _SHAPE.match(number):
        return "an account number is 16 digits"
    if int(number) % 97 != 1:
        return "check digits do not match (mod 97)"
    return None
