"""Services on PostgreSQL instead of SQLite: same behaviour, including under concurrency."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from devnet.node.process import free_port
from devnet.services.bank.api import PaymentStatus
from devnet.services.bank.client import BankClient
from devnet.services.launch import start_service

PG_BIN = Path("/usr/lib/postgresql/15/bin")
pytestmark = pytest.mark.xdist_group("postgres")


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A private PostgreSQL cluster on a unix socket (Debian's server, run as user postgres)."""
    if not (PG_BIN / "initdb").is_file() or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL server binaries are not installed (Debian: apt-get install postgresql)")
    # Not under pytest's temp tree: that is readable by root only, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="devnet-pg-"))
    shutil.chown(root, "postgres")
    port = free_port()

    def as_postgres(*argv: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True)

    as_postgres(str(PG_BIN / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres")
    options = f"-p {port} -k {root} -c listen_addresses=''"
    as_postgres(
        str(PG_BIN / "pg_ctl"),
        "-D",
        str(root / "data"),
        "-o",
        options,
        "-l",
        str(root / "log"),
        "-w",
        "start",
    )
    as_postgres(str(PG_BIN / "createdb"), "-h", str(root), "-p", str(port), "bank")
    yield f"postgresql+psycopg://postgres@/bank?host={root}&port={port}"
    as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop")
    shutil.rmtree(root, ignore_errors=True)


def test_bank_on_postgres_keeps_idempotency_under_concurrency_and_survives_sigkill(
    postgres_url: str, tmp_path: Path
) -> None:
    service = start_service("bank", tmp_path, settings={"database_url": postgres_url})
    restarted = None
    try:
        bank = BankClient(service.url)
        customer = bank.create_customer("Aigul", "T2")
        account = bank.open_account(customer.id, "KGS").number

        def same_key(_: int) -> int:
            reply = httpx.post(
                f"{service.url}/deposits",
                json={"account": account, "amount": 100_00, "currency": "KGS"},
                headers={"Idempotency-Key": "one-deposit"},
            )
            return reply.status_code

        with ThreadPoolExecutor(10) as pool:
            assert set(pool.map(same_key, range(10))) == {201}
        assert bank.balance(account) == 100_00  # ten concurrent requests, one deposit

        with ThreadPoolExecutor(10) as pool:
            opened = list(pool.map(lambda _: bank.open_account(customer.id, "KGS").number, range(10)))
        assert len(set(opened)) == 10  # serials allocated without collisions

        payment = bank.pay(account, opened[0], 40_00, "KGS", end_to_end_id=uuid.uuid4().hex[:20])
        service.kill()
        restarted = start_service(
            "bank", tmp_path, port=int(service.url.rsplit(":", 1)[1]), settings={"database_url": postgres_url}
        )
        assert bank.balance(account) == 60_00
        assert bank.payment(payment.id).status == PaymentStatus.SETTLED
    finally:
        service.stop()
        if restarted is not None:
            restarted.stop()


def test_a_read_on_postgres_answers_while_another_connection_holds_the_writer_lock(
    postgres_url: str,
) -> None:
    """`Database.read()` takes no advisory lock: it reads the last committed state meanwhile."""
    import sqlalchemy

    from devnet.services.common.db import Database
    from tests.unit.test_db_read import assert_a_read_answers_while_a_writer_holds_the_lock

    name = f"reads_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    db = Database(postgres_url.replace("/bank?", f"/{name}?"))
    try:
        db.create_all()
        assert_a_read_answers_while_a_writer_holds_the_lock(db)
    finally:
        db.dispose()
