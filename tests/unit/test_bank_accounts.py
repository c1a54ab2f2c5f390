"""Kyrgyz account numbers: 3-digit bank code + 11-digit account + 2 check digits (mod 97)."""

from __future__ import annotations

import pytest

from devnet.services.bank.accounts import check_digits, make_account_number
from devnet.services.bank.api import account_number_problem


def test_made_numbers_are_16_digits_and_one_mod_97() -> None:
    for serial in (0, 1, 493, 10**11 - 1):
        number = make_account_number("103", serial)
        assert len(number) == 16 and number.startswith("103")
        assert int(number) % 97 == 1 and account_number_problem(number) is None


def test_check_digits_are_iso_7064_mod_97_10() -> None:
    assert check_digits("10300000000004") == make_account_number("103", 4)[-2:]
    assert 2 <= int(check_digits("10300000000004")) <= 98


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("1030000000000494", "check digits do not match (mod 97)"),  # one digit off
        ("103000000000049", "an account number is 16 digits"),
        ("10300000000004x3", "an account number is 16 digits"),
    ],
)
def test_bad_numbers_say_why(number: str, problem: str) -> None:
    assert account_number_problem(number) == problem


def test_a_single_changed_digit_is_always_caught() -> None:
    good = make_account_number("103", 12_345_678_901)
    for i in range(16):
        for d in "0123456789":
            if d != good[i]:
                assert account_number_problem(good[:i] + d + good[i + 1 :]) is not None


def test_bank_code_and_serial_are_bounded() -> None:
    with pytest.raises(ValueError):
        make_account_number("10", 1)
    with pytest.raises(ValueError):
        make_account_number("103", 10**11)
