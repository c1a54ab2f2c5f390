"""How values travel as JSON between the services and their clients: the field types the
services' published models (`devnet/services/<name>/api.py`) are made of.

- Integers the stores keep fit a 64-bit signed column (`MAX_DB_INT`).
- Fiat is an integer of minor units (tyiyn, cents): a JSON integer.
- Token amounts are integers of base units, well above 2^53 (1,000 KGST is 10^21 base units),
  where JSON numbers lose precision in many clients: answers carry them as decimal strings
  ("1000000000000000000000"), and Python sees an `int` on both sides (`BaseUnits`).
- Timestamps are RFC 3339 with their UTC offset; Python sees an aware `datetime` (`Timestamp`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, NotRequired

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, StrictInt, WithJsonSchema
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from 3.12 on

#: The largest integer a 64-bit signed column holds.
MAX_DB_INT = 2**63 - 1
#: The largest token amount (uint256).
UINT256_MAX = 2**256 - 1

#: A positive amount in minor units (tyiyn, cents) that fits the store.
MinorUnits = Annotated[
    StrictInt, Field(gt=0, le=MAX_DB_INT, description="minor units (tyiyn, cents); at most 2^63 - 1")
]

_DIGITS = re.compile(r"^[0-9]{1,78}$")
_SIGNED_DIGITS = re.compile(r"^-?[0-9]{1,78}$")


def parse_amount(value: Any) -> int:
    """A base-unit amount from a JSON integer or a decimal string; floats and bools refused."""
    if isinstance(value, bool):
        raise ValueError("an amount is an integer or a decimal string of base units, not a bool")
    if isinstance(value, int):
        amount = value
    elif isinstance(value, str) and _DIGITS.match(value):
        amount = int(value)
    else:
        raise ValueError("an amount is an integer or a decimal string of base units (no decimals point)")
    if not 0 <= amount <= UINT256_MAX:
        raise ValueError("an amount is between 0 and 2^256 - 1")
    return amount


def parse_signed_amount(value: Any) -> int:
    """A difference of base-unit amounts (may be negative) from an integer or a decimal string."""
    if isinstance(value, bool):
        raise ValueError("a difference of amounts is an integer or a decimal string, not a bool")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _SIGNED_DIGITS.match(value):
        return int(value)
    raise ValueError("a difference of amounts is an integer or a decimal string of base units")


#: A token amount in a request: a decimal string or a plain JSON integer (never a float or a bool);
#: clients write it as a decimal string.
Amount = Annotated[
    int, BeforeValidator(parse_amount), PlainSerializer(str, return_type=str, when_used="json")
]

#: A token amount in an answer: an `int` in Python, a decimal string in JSON.
BaseUnits = Annotated[
    int,
    BeforeValidator(parse_amount),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]+$", "description": "base units, a decimal string"}),
]

#: A signed difference of token amounts in an answer: an `int` in Python, a decimal string in JSON.
SignedBaseUnits = Annotated[
    int,
    BeforeValidator(parse_signed_amount),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": "^-?[0-9]+$", "description": "base units, a signed decimal string"}
    ),
]


def _utc_if_naive(value: datetime) -> datetime:
    """Every timestamp is written in UTC; one read back without its zone is put back in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


#: A moment in an answer: an aware `datetime` in Python, RFC 3339 with its offset in JSON
#: (`datetime.isoformat`: "2026-12-03T11:31:56.851655+00:00").
Timestamp = Annotated[
    datetime,
    AfterValidator(_utc_if_naive),
    PlainSerializer(datetime.isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "description": "RFC 3339, UTC"}),
]


class FieldError(TypedDict):
    """One invalid input."""

    #: where: `body.amount`, `path.mint_id`, `query.limit`, `header.Idempotency-Key`
    field: str
    message: str


class ProblemDocument(TypedDict):
    """An error answer (RFC 9457). `field` names the input at fault, as `<where>.<name>`
    (`body.debtor.account`, `path.mint_id`, `query.limit`, `header.Idempotency-Key`);
    `errors` lists every invalid input of a request that failed validation. Some problems
    carry more members (e.g. `status_reason`)."""

    type: str
    title: str
    status: int
    detail: str
    field: NotRequired[str]
    errors: NotRequired[list[FieldError]]
