"""Money is integers: fiat minor units and token base units, converted exactly (down, back)."""

from __future__ import annotations

import pytest

from devnet.core.deploy import TokenDeployment
from devnet.core.money import format_minor, format_units, minor_to_units, units_per_minor, units_to_minor


def _token(decimals: int) -> TokenDeployment:
    return TokenDeployment(
        symbol="T", name="T", decimals=decimals, backing="fiat", address="0x0", policy="0x0", feeds={}
    )


def test_kgst_and_usdkg_units_per_minor_unit() -> None:
    assert units_per_minor(18) == 10**16  # 1 tyiyn in KGST base units
    assert units_per_minor(6) == 10**4  # 1 cent in USDKG base units
    assert units_per_minor(2) == 1


def test_a_token_with_fewer_decimals_than_its_fiat_is_refused() -> None:
    with pytest.raises(ValueError, match="1 decimals"):
        units_per_minor(1)


@pytest.mark.parametrize("decimals", [2, 6, 18])
def test_minor_units_round_trip_exactly(decimals: int) -> None:
    for minor in (0, 1, 17_480_00, 10**15):
        assert units_to_minor(minor_to_units(minor, decimals), decimals) == minor


def test_back_to_minor_units_floors_the_remainder() -> None:
    assert units_to_minor(1_500_00 * 10**16 + 123, 18) == 1_500_00
    assert units_to_minor(10**16 - 1, 18) == 0


def test_the_token_deployment_carries_its_units() -> None:
    kgst, usdkg = _token(18), _token(6)
    assert kgst.units(1) == 10**18 and usdkg.units(1) == 10**6
    assert kgst.from_minor(17_480_00) == 17_480 * 10**18
    assert usdkg.to_minor(usdkg.from_minor(250_00) + 9_999) == 250_00


def test_amounts_are_formatted_without_floats() -> None:
    assert format_minor(17_480_00) == "17,480.00"
    assert format_minor(5) == "0.05"
    assert format_minor(-1_234_56) == "-1,234.56"
    assert format_minor(10**20 + 1) == "1,000,000,000,000,000,000.01"  # no float rounding
    assert format_units(17_480_00 * 10**16 + 99, 18) == "17,480.00"
