"""Kyrgyz-style account numbers: 3-digit bank code + 11-digit account + 2 check digits, where
the check digits make the whole 16-digit number = 1 (mod 97), as ISO 7064 MOD 97-10 (IBAN).
What makes a number valid is part of the bank's contract: `api.account_number_problem`."""

from __future__ import annotations

import re


def check_digits(first14: str) -> str:
    return f"{98 - int(first14) * 100 % 97:02d}"


def make_account_number(bank_code: str, serial: int) -> str:
    if not re.fullmatch(r"\d{3}", bank_code) or not 0 <= serial < 10**11:
        raise ValueError("bank code is 3 digits and the serial at most 11 digits")
    first14 = f"{bank_code}{serial:011d}"
    return first14 + check_digits(first14)
