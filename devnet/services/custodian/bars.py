"""LBMA Good Delivery rules for the weight list, in integers: weights in thousandths of a troy
ounce (milli-oz), assay in tenths of a part per thousand (9950 = 995.0, 9999 = 999.9). The bounds
are part of the custodian's contract (`api`)."""

from __future__ import annotations

from devnet.services.custodian.api import (
    GROSS_STEP_MILLI,
    MAX_ASSAY_TENTHS,
    MAX_FINE_OZ_MILLI,
    MIN_ASSAY_TENTHS,
    MIN_FINE_OZ_MILLI,
    MIN_YEAR,
)


def fine_oz_milli(gross_oz_milli: int, assay_tenths: int) -> int:
    """Fine oz = gross oz x assay / 1000, truncated to 3 decimals."""
    return gross_oz_milli * assay_tenths // 10_000


def oz(milli: int) -> str:
    """12345 -> "12.345" (for messages)."""
    return f"{milli // 1000}.{milli % 1000:03d}"


def good_delivery_problem(
    gross_oz_milli: int, assay_tenths: int, year: int, current_year: int
) -> tuple[str, str] | None:
    """(field, why) for the first Good Delivery rule the bar breaks, or None if it is Good Delivery."""
    if gross_oz_milli <= 0 or gross_oz_milli % GROSS_STEP_MILLI:
        return "body.gross_oz_milli", "gross weight is recorded in 0.025 oz steps (multiples of 25 milli-oz)"
    if not MIN_ASSAY_TENTHS <= assay_tenths <= MAX_ASSAY_TENTHS:
        assay = f"{assay_tenths // 10}.{assay_tenths % 10}"
        return "body.assay_tenths", f"assay {assay} is outside 995.0..999.9 (assay_tenths 9950..9999)"
    fine = fine_oz_milli(gross_oz_milli, assay_tenths)
    if not MIN_FINE_OZ_MILLI <= fine <= MAX_FINE_OZ_MILLI:
        return "body.gross_oz_milli", f"fine weight {oz(fine)} oz is outside 350.000..430.000 oz"
    if not MIN_YEAR <= year <= current_year:
        return "body.year", f"year {year} is outside {MIN_YEAR}..{current_year}"
    return None
