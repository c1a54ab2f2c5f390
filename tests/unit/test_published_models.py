"""The issuer's and the exchange's published models read the answers and event data the services
sent before they were typed (`captured_answers`) and write them back byte for byte the same
JSON; a status or a key they do not know is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from devnet.services.exchange import api as exchange
from devnet.services.issuer import api as issuer
from tests.unit import captured_answers as captured

#: (the type an answer is read as, the captured answer)
ANSWERS: list[tuple[Any, Any]] = [
    (issuer.MintOut, captured.MINT_MINTED),
    (issuer.MintOut, captured.MINT_HELD),
    (issuer.MintOut, captured.MINT_QUEUED_EVENT),
    (issuer.RedemptionOut, captured.REDEMPTION_PAID),
    (list[issuer.RedemptionOut], captured.REDEMPTION_FAILED),
    (issuer.MintRequestAccepted, captured.MINT_REQUEST_ACCEPTED),
    (issuer.IssuerInfo, captured.ISSUER_INFO),
    (exchange.ReviewOut, captured.REVIEW),
    (exchange.ReviewOut, captured.REVIEW_OF_AN_ACCOUNT),
    (exchange.NetworkList, captured.NETWORKS),
    (exchange.ExchangeInfo, captured.EXCHANGE_INFO),
    (exchange.UserOut, captured.USER),
    (exchange.UserDetail, captured.USER_DETAIL),
    (exchange.AddressOut, captured.ADDRESS),
    (exchange.AddressList, captured.ADDRESSES),
    (exchange.Balances, captured.BALANCES),
    (exchange.DepositOut, captured.DEPOSIT),
    (exchange.UserDeposits, captured.USER_DEPOSITS),
    (exchange.DepositList, captured.DEPOSITS_OF_TX),
    (exchange.WithdrawalOut, captured.WITHDRAWAL),
    (exchange.TransferOut, captured.TRANSFER),
    (exchange.SweepOut, captured.SWEEP),
    (exchange.SweepsCreated, captured.SWEEPS_CREATED),
    (exchange.SweepList, captured.SWEEPS),
    (exchange.Reconciliation, captured.RECONCILIATION),
    (exchange.Rescan, captured.RESCAN),
]

#: (model, a captured answer of it, the member holding a status)
STATUSES: list[tuple[type[BaseModel], dict[str, Any], str]] = [
    (issuer.MintOut, captured.MINT_MINTED, "status"),
    (issuer.RedemptionOut, captured.REDEMPTION_PAID, "status"),
    (issuer.MintRequestAccepted, captured.MINT_REQUEST_ACCEPTED, "status"),
    (exchange.DepositOut, captured.DEPOSIT, "status"),
    (exchange.DepositReversed, captured.EXCHANGE_EVENTS["deposit.reversed"], "previous_status"),
    (exchange.WithdrawalOut, captured.WITHDRAWAL, "status"),
    (exchange.TransferOut, captured.TRANSFER, "status"),
    (exchange.SweepOut, captured.SWEEP, "status"),
]


def _round_trip(type_: Any, answer: Any, **dump: Any) -> Any:
    """`answer` read from its JSON as `type_`, then written back as JSON the way the service
    writes it (by alias)."""
    adapter = TypeAdapter(type_)
    return json.loads(adapter.dump_json(adapter.validate_json(json.dumps(answer)), by_alias=True, **dump))


@pytest.mark.parametrize(("type_", "answer"), ANSWERS)
def test_a_captured_answer_reads_and_writes_back_unchanged(type_: Any, answer: Any) -> None:
    assert _round_trip(type_, answer) == answer


def test_reserves_read_and_write_back_without_their_null_members() -> None:
    reserves = dict[str, issuer.TokenReserve]
    assert _round_trip(reserves, captured.RESERVES, exclude_none=True) == captured.RESERVES


@pytest.mark.parametrize("event", sorted(captured.EXCHANGE_EVENTS))
def test_a_captured_exchange_event_reads_as_its_data_model(event: str) -> None:
    data = captured.EXCHANGE_EVENTS[event]
    assert _round_trip(exchange.EVENT_DATA[exchange.ExchangeEvent(event)], data) == data


def test_every_exchange_event_names_its_data_model() -> None:
    assert set(exchange.EVENT_DATA) == set(exchange.ExchangeEvent)


def test_amounts_are_ints_in_python_and_timestamps_carry_their_offset() -> None:
    deposit = exchange.DepositOut.model_validate(captured.DEPOSIT)
    assert deposit.amount == 100 * 10**18 and deposit.status is exchange.DepositStatus.UNLOCKED
    assert deposit.created_at.utcoffset() is not None
    assert deposit.from_ == captured.DEPOSIT["from"]
    network = exchange.NetworkList.model_validate(captured.NETWORKS).networks[0]
    assert network.unlock_confirm == captured.NETWORKS["networks"][0]["unLockConfirm"]


@pytest.mark.parametrize(("model", "answer", "member"), STATUSES)
def test_an_unknown_status_is_refused(model: type[BaseModel], answer: dict[str, Any], member: str) -> None:
    with pytest.raises(ValidationError, match=member):
        model.model_validate({**answer, member: "misplaced"})


@pytest.mark.parametrize(("model", "answer"), [(model, answer) for model, answer, _ in STATUSES])
def test_an_undeclared_member_is_refused(model: type[BaseModel], answer: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="extra_member"):
        model.model_validate({**answer, "extra_member": 1})
