"""Client for the mock gold custodian, and `verify_attestation` for its signed attestations."""

from __future__ import annotations

import uuid
from typing import Any

from devnet.core.attestation import attestation_message, recover_signer
from devnet.core.http import ServiceClient


def verify_attestation(att: dict[str, Any]) -> str:
    """The address that signed `att`'s message. Raises ValueError if the message is not the
    canonical message of the attested fields (pool, total_fine_oz_milli, bar_count, as_of), so
    a caller who compares the result with the custodian's signer has checked every field."""
    expected = attestation_message(
        str(att["pool"]), int(att["total_fine_oz_milli"]), int(att["bar_count"]), int(att["as_of"])
    )
    if att["message"] != expected:
        raise ValueError("attestation message does not match its fields")
    return recover_signer(str(att["message"]), str(att["signature"]))


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
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "serial": serial,
            "brand": brand,
            "year": year,
            "gross_oz_milli": gross_oz_milli,
            "assay_tenths": assay_tenths,
        }
        if pool is not None:
            body["pool"] = pool
        return self.post("/bars", body, key)  # type: ignore[no-any-return]

    def release_bar(self, serial: str, key: str | None = None) -> dict[str, Any]:
        return self.post(f"/bars/{serial}/release", {}, key)  # type: ignore[no-any-return]

    def allocate_bar(self, serial: str, pool: str, key: str | None = None) -> dict[str, Any]:
        return self.post(f"/bars/{serial}/allocate", {"pool": pool}, key)  # type: ignore[no-any-return]

    def deallocate_bar(self, serial: str, key: str | None = None) -> dict[str, Any]:
        return self.post(f"/bars/{serial}/deallocate", {}, key)  # type: ignore[no-any-return]

    def bars(self, pool: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        return self.get("/bars", **_params(pool=pool, status=status))["bars"]  # type: ignore[no-any-return]

    def bar(self, serial: str) -> dict[str, Any]:
        return self.get(f"/bars/{serial}")  # type: ignore[no-any-return]

    def weight_list(self, pool: str | None = None) -> dict[str, Any]:
        return self.get("/weight-list", **_params(pool=pool))  # type: ignore[no-any-return]

    # ---- attestations -------------------------------------------------------------------------

    def publish_attestation(self, pool: str, key: str | None = None) -> dict[str, Any]:
        return self.post("/attestations", {"pool": pool}, key)  # type: ignore[no-any-return]

    def latest_attestation(self, pool: str) -> dict[str, Any]:
        return self.get("/attestations/latest", pool=pool)  # type: ignore[no-any-return]

    def attestation(self, attestation_id: str) -> dict[str, Any]:
        return self.get(f"/attestations/{attestation_id}")  # type: ignore[no-any-return]

    # ---- price --------------------------------------------------------------------------------

    def price(self) -> dict[str, Any]:
        return self.get("/price")  # type: ignore[no-any-return]

    def tick_price(self, ticks: int = 1, key: str | None = None) -> dict[str, Any]:
        """Advance the price path (admin)."""
        headers = {
            "Authorization": f"Bearer {self.admin_token}",
            "Idempotency-Key": key or str(uuid.uuid4()),
        }
        return self._send("POST", "/price/tick", json={"ticks": ticks}, headers=headers)  # type: ignore[no-any-return]

    def set_price_path(self, path: dict[str, Any]) -> dict[str, Any]:
        """Replace the price path (admin): {"path": "constant", "price_e8": ...},
        {"path": "random_walk", "seed", "start_price_e8", "step_bps", "floor_price_e8"} or
        {"path": "shock", "start_price_e8", "steps": [{"at_tick" | "after_s", "price_e8"}]}."""
        return self._admin("PUT", "/admin/price-path", path)  # type: ignore[no-any-return]

    def price_path(self) -> dict[str, Any]:
        """The path and where on it the price is: config, tick, price_e8, as_of, started_at."""
        return self._admin("GET", "/admin/price-path")  # type: ignore[no-any-return]

    def info(self) -> dict[str, Any]:
        return self.get("/info")  # type: ignore[no-any-return]
