"""Client for the mock gold custodian: answers come back as the models of `api`, the custodian's
contract; and `verify_attestation` for its signed attestations.

Request bodies go out as given: the custodian judges them, so a refusal comes back as an
`ApiError` naming the field, exactly as any other client would see it.
"""

from __future__ import annotations

import uuid
from typing import Any

from devnet.core.attestation import attestation_message, recover_signer
from devnet.core.http import ServiceClient
from devnet.services.custodian.api import (
    AnyPath,
    AttestationOut,
    BarList,
    BarOut,
    BarStatus,
    CustodianInfo,
    PriceOut,
    PriceStateOut,
    WeightList,
)


def verify_attestation(att: AttestationOut) -> str:
    """The address that signed `att`'s message. Raises ValueError if the message is not the
    canonical message of the attested fields (pool, total_fine_oz_milli, bar_count, as_of), so
    a caller who compares the result with the custodian's signer has checked every field."""
    expected = attestation_message(att.pool, att.total_fine_oz_milli, att.bar_count, att.as_of)
    if att.message != expected:
        raise ValueError("attestation message does not match its fields")
    return recover_signer(att.message, att.signature)


def _params(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class CustodianClient(ServiceClient):
    # ---- bars ---------------------------------------------------------------------------------

    def deposit_bar(
        self,
        serial: str,
        brand: str,
        year: int,
        gross_oz_milli: int,
        assay_tenths: int,
        *,
        pool: str | None = None,
        key: str | None = None,
    ) -> BarOut:
        body: dict[str, Any] = {
            "serial": serial,
            "brand": brand,
            "year": year,
            "gross_oz_milli": gross_oz_milli,
            "assay_tenths": assay_tenths,
        }
        if pool is not None:
            body["pool"] = pool
        return self.post_model(BarOut, "/bars", body, key)

    def release_bar(self, serial: str, key: str | None = None) -> BarOut:
        return self.post_model(BarOut, f"/bars/{serial}/release", {}, key)

    def allocate_bar(self, serial: str, pool: str, key: str | None = None) -> BarOut:
        return self.post_model(BarOut, f"/bars/{serial}/allocate", {"pool": pool}, key)

    def deallocate_bar(self, serial: str, key: str | None = None) -> BarOut:
        return self.post_model(BarOut, f"/bars/{serial}/deallocate", {}, key)

    def bars(self, pool: str | None = None, status: BarStatus | None = None) -> list[BarOut]:
        return self.get_model(BarList, "/bars", **_params(pool=pool, status=status)).bars

    def bar(self, serial: str) -> BarOut:
        return self.get_model(BarOut, f"/bars/{serial}")

    def weight_list(self, pool: str | None = None) -> WeightList:
        return self.get_model(WeightList, "/weight-list", **_params(pool=pool))

    # ---- attestations -------------------------------------------------------------------------

    def publish_attestation(self, pool: str, key: str | None = None) -> AttestationOut:
        return self.post_model(AttestationOut, "/attestations", {"pool": pool}, key)

    def latest_attestation(self, pool: str) -> AttestationOut:
        return self.get_model(AttestationOut, "/attestations/latest", pool=pool)

    def attestation(self, attestation_id: str) -> AttestationOut:
        return self.get_model(AttestationOut, f"/attestations/{attestation_id}")

    # ---- price --------------------------------------------------------------------------------

    def price(self) -> PriceOut:
        return self.get_model(PriceOut, "/price")

    def tick_price(self, ticks: int = 1, key: str | None = None) -> PriceOut:
        """Advance the price path (admin)."""
        headers = {
            "Authorization": f"Bearer {self.admin_token}",
            "Idempotency-Key": key or str(uuid.uuid4()),
        }
        return PriceOut.model_validate(
            self._send("POST", "/price/tick", json={"ticks": ticks}, headers=headers)
        )

    def set_price_path(self, path: AnyPath) -> PriceStateOut:
        """Replace the price path (admin): a `ConstantPath`, `RandomWalkPath` or `ShockPath`."""
        return PriceStateOut.model_validate(
            self._admin("PUT", "/admin/price-path", path.model_dump(mode="json"))
        )

    def price_path(self) -> PriceStateOut:
        """The path and where on it the price is: config, tick, price_e8, as_of, started_at."""
        return PriceStateOut.model_validate(self._admin("GET", "/admin/price-path"))

    def info(self) -> CustodianInfo:
        return self.get_model(CustodianInfo, "/info")
