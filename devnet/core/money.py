"""Money in integers: fiat in minor units (tyiyn, cents: 2 decimals), tokens in base units.

A token with `decimals` d holds 10**(d - 2) base units per fiat minor unit: 1 KGST (18 decimals)
is 100 tyiyn, so 1 tyiyn is 10**16 base units; 1 USDKG (6 decimals) is 100 cents, so 1 cent is
10**4 base units. Converting back floors: a sub-minor remainder is never paid out. How amounts
travel as JSON is `devnet.core.wire`.
"""

from __future__ import annotations

#: KGS (ISO 4217 417) and USD both have 2 minor units.
FIAT_DECIMALS = 2


def units_per_minor(decimals: int) -> int:
    """Token base units in one fiat minor unit, for a token with `decimals` decimals."""
    if decimals < FIAT_DECIMALS:
        raise ValueError(f"a token with {decimals} decimals cannot represent a fiat minor unit")
    return int(10 ** (decimals - FIAT_DECIMALS))


def minor_to_units(minor: int, decimals: int) -> int:
    """Fiat minor units -> token base units (exact)."""
    return minor * units_per_minor(decimals)


def units_to_minor(units: int, decimals: int) -> int:
    """Token base units -> fiat minor units, floored (the remainder stays with the issuer)."""
    return units // units_per_minor(decimals)


def format_minor(minor: int) -> str:
    """Minor units as a decimal amount, without floats: 1748000 -> '17,480.00'."""
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    return f"{sign}{minor // 100:,}.{minor % 100:02d}"


def format_units(units: int, decimals: int) -> str:
    """Token base units as a decimal amount to the fiat minor unit (floored)."""
    return format_minor(units_to_minor(units, decimals))
