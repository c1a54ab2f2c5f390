"""LBMA Good Delivery rules, in integers: 350-430 fine oz, assay >= 995.0, 0.025 oz steps."""

from __future__ import annotations

import pytest

from devnet.services.custodian.bars import fine_oz_milli, good_delivery_problem, oz

YEAR = 2026


def test_fine_ounces_are_gross_times_assay_truncated_to_three_decimals() -> None:
    assert fine_oz_milli(400_000, 9_999) == 399_960  # 400.000 oz at 999.9
    assert fine_oz_milli(400_025, 9_950) == 398_024  # 398.02487... truncated, not rounded
    assert oz(398_024) == "398.024"


def test_a_typical_bar_is_good_delivery() -> None:
    assert good_delivery_problem(400_000, 9_999, 2025, YEAR) is None


@pytest.mark.parametrize(
    ("gross", "assay", "year", "field", "why"),
    [
        (400_010, 9_999, 2025, "body.gross_oz_milli", "0.025 oz steps"),
        (400_000, 9_949, 2025, "body.assay_tenths", "995.0..999.9"),
        (400_000, 10_000, 2025, "body.assay_tenths", "995.0..999.9"),
        (351_000, 9_950, 2025, "body.gross_oz_milli", "outside 350.000..430.000"),  # 349.2 fine
        (430_100, 9_999, 2025, "body.gross_oz_milli", "outside 350.000..430.000"),
        (400_000, 9_999, 1899, "body.year", "outside 1900..2026"),
        (400_000, 9_999, YEAR + 1, "body.year", "outside 1900..2026"),
    ],
)
def test_each_rule_names_its_field(gross: int, assay: int, year: int, field: str, why: str) -> None:
    problem = good_delivery_problem(gross, assay, year, YEAR)
    assert problem is not None and problem[0] == field and why in problem[1]


def test_the_fine_weight_bounds_are_inclusive() -> None:
    # 350.000 and 430.000 fine oz exactly, at 999.9 (gross in 0.025 oz steps)
    low = next(g for g in range(350_000, 351_000, 25) if fine_oz_milli(g, 9_999) >= 350_000)
    assert good_delivery_problem(low, 9_999, 2025, YEAR) is None
    assert good_delivery_problem(430_025, 9_999, 2025, YEAR) is None  # 429.982 fine
