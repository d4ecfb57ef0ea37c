"""Writing letter rows, on SQLite and PostgreSQL alike: a key already recorded is skipped, the
count says how many rows really went in, and every value comes back as it was given.

Each dialect writes a batch its own way (see ``engine/store/letter_rows.py``): SQLite through
the driver's executemany, PostgreSQL through ``COPY`` and a temporary table, or, for a batch
too small for that, one ordinary statement. These tests hold every way to the same behaviour,
because the tick's summary and the "never twice" promise rest on that count.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DataError, DBAPIError

from engine.spec.loader import load_definition
from engine.store import db, definitions, letter_rows, records
from engine.store.db import Store, connect, copy_path
from engine.store.letter_rows import insert_letters
from engine.store.tables import letters
from tests.conftest import CAMPAIGNS
from tests.conftest_helpers import role_without_temp

CREATED = datetime(2017, 10, 24, 1, 30, 15, 123456, tzinfo=UTC)
BODY = "# 督办函\n\n浙江省市场监督管理局：\n\n请于2017年10月31日前报送线索核查情况。\n"


def letter(key: str, **changes: object) -> dict[str, object]:
    """A supervision letter as the tick writes one (an obligation's letters also name it)."""
    row: dict[str, object] = {
        "idempotency_key": key, "campaign_id": "sourcing_2017", "kind": "supervision",
        "recipient_id": "zhejiang_amr", "record_kind": "lead", "record_id": 7, "step": 0,
        "planned_for": date(2017, 10, 24), "status": "planned", "subject": "督办函",
        "body": BODY, "created_at": CREATED}
    row.update(changes)
    return row


@pytest.fixture(params=["copy", "statement"])
def way(request: pytest.FixtureRequest, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """On PostgreSQL, every batch through ``COPY`` (however small), or none; and a check
    afterwards that the test really went that way."""
    monkeypatch.setattr(db, "COPY_MIN_ROWS", 1 if request.param == "copy" else 10**9)
    copies: list[str] = []
    real = letter_rows.stage
    monkeypatch.setattr(letter_rows, "stage", lambda conn, table, columns, rows: (
        copies.append(table), real(conn, table, columns, rows))[1])
    yield request.param
    expected = request.param == "copy" and db_url.startswith("postgresql")
    assert bool(copies) == expected


@pytest.fixture
def small_batches_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "COPY_MIN_ROWS", 1)


def stored(store: Store) -> list[tuple[object, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(
            letters.c.idempotency_key, letters.c.kind, letters.c.planned_for, letters.c.status,
            letters.c.body, letters.c.created_at, letters.c.record_id,
            letters.c.obligation_id).order_by(letters.c.id))]


def test_a_batch_goes_in_once_and_a_rerun_inserts_nothing(db_url: str, way: str) -> None:
    store = connect(db_url)
    batch = [letter(f"sourcing_2017:timer:t:lead:{n}:2017-10-10", record_id=n)
             for n in range(1, 301)]
    with store.engine.begin() as conn:
        assert insert_letters(conn, batch) == 300
    first = stored(store)
    with store.engine.begin() as conn:
        assert insert_letters(conn, batch) == 0
    assert stored(store) == first


def test_only_new_keys_count_in_the_order_given_and_a_key_twice_in_a_batch_once(
        db_url: str, way: str) -> None:
    store = connect(db_url)
    with store.engine.begin() as conn:
        insert_letters(conn, [letter("k:2"), letter("k:4")])
    with store.engine.begin() as conn:
        written = insert_letters(conn, [letter("k:5"), letter("k:4"), letter("k:1"),
                                        letter("k:2"), letter("k:3"), letter("k:1")])
    assert written == 3
    assert [row[0] for row in stored(store)] == ["k:2", "k:4", "k:5", "k:1", "k:3"]


def test_values_come_back_as_given_from_batches_of_different_columns_in_one_transaction(
        db_url: str, way: str) -> None:
    """The tick writes its letters and then its ``fire`` rows (no obligation, no text) in the
    same transaction: the second batch must not pick up anything of the first."""
    store = connect(db_url)
    with store.engine.begin() as conn:
        assert insert_letters(conn, [letter("send:1"), letter("send:2", record_id=None,
                                                              record_kind=None)]) == 2
        assert insert_letters(conn, [letter("fire:1", kind="fire", status="done",
                                            subject=None, body=None)]) == 1
    rows = stored(store)
    assert [r[:5] for r in rows] == [
        ("send:1", "supervision", date(2017, 10, 24), "planned", BODY),
        ("send:2", "supervision", date(2017, 10, 24), "planned", BODY),
        ("fire:1", "fire", date(2017, 10, 24), "done", None)]
    assert [r[6:] for r in rows] == [(7, None), (None, None), (7, None)]
    for row in rows:  # the instant survives, whether the backend hands it back naive-UTC
        at = row[5]
        assert isinstance(at, datetime)
        assert (at if at.tzinfo else at.replace(tzinfo=UTC)) == CREATED


def test_equal_instants_in_two_time_zones_are_stored_as_core_would_store_each(
        db_url: str, way: str) -> None:
    """A batch converts each date and timestamp once, remembered by value: an instant equal to
    another but given in another time zone must still be stored as its own value would be,
    exactly as SQLAlchemy's own insert stores it; and since timestamps are stored as UTC
    (``tables.Instant``), equal instants are stored alike on either backend."""
    beijing = timezone(timedelta(hours=8))
    batch = [letter("utc", created_at=CREATED), letter("beijing",
                                                       created_at=CREATED.astimezone(beijing)),
             letter("utc again", created_at=CREATED), letter("next day", planned_for=date(
                 2017, 10, 25), created_at=CREATED.astimezone(beijing))]
    store = connect(db_url)
    with store.engine.begin() as conn:
        assert insert_letters(conn, batch) == 4
        conn.execute(insert(letters), [{**row, "idempotency_key": f"core {row['idempotency_key']}"}
                                       for row in batch])
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT idempotency_key, CAST(planned_for AS TEXT), "
                                 "CAST(created_at AS TEXT) FROM letters ORDER BY id")).all()
    ours, cores = rows[:4], rows[4:]
    assert [r[1:] for r in ours] == [r[1:] for r in cores]
    assert ours[0][2] == ours[1][2]  # SQLite too: the UTC text, not Beijing's wall clock


def test_a_rolled_back_batch_leaves_nothing_and_the_next_one_goes_in(db_url: str, way: str) -> None:
    store = connect(db_url)
    with store.engine.connect() as conn:
        with conn.begin() as tx:
            assert insert_letters(conn, [letter("a"), letter("b")]) == 2
            tx.rollback()
        with conn.begin():  # the same connection: nothing staged is left over from before
            assert insert_letters(conn, [letter("b"), letter("c")]) == 2
    assert [row[0] for row in stored(store)] == ["b", "c"]


def test_an_empty_batch_writes_nothing(db_url: str) -> None:
    store = connect(db_url)
    with store.engine.begin() as conn:
        assert insert_letters(conn, []) == 0
    assert stored(store) == []


@pytest.mark.usefixtures("small_batches_copied")
def test_a_postgresql_role_that_may_not_create_temporary_tables_still_writes(
        pg_url: str) -> None:
    """Hardened servers revoke ``TEMPORARY`` from ``PUBLIC``. Letters and imports, which stage
    their batches in a temporary table where they may, then take the portable path instead
    of failing every day."""
    store = connect(pg_url)  # the schema, as the server's superuser
    def_id = definitions.register(store, load_definition(CAMPAIGNS / "sourcing_2017.yaml"),
                                  actor="测试").definition_id
    with store.engine.connect() as conn:
        assert copy_path(conn)  # the superuser may: the fast path is the usual one
    with role_without_temp(pg_url) as limited_url:
        limited = connect(limited_url)
        try:
            with limited.engine.begin() as conn:
                assert not copy_path(conn)
                assert insert_letters(conn, [letter("a"), letter("b")]) == 2
            with limited.engine.begin() as conn:
                assert insert_letters(conn, [letter("b"), letter("c")]) == 1
            done = records.insert_records(
                limited, "lead", "sourcing_2017", def_id,
                [records.NewRecord(f"K{n % 3}", {"mark": f"商标{n}"}) for n in range(5)],
                actor="测试", initial_state="collected")
            assert (done.inserted, done.duplicates) == (3, ["K0", "K1"])
        finally:
            limited.engine.dispose()
    assert [row[0] for row in stored(store)] == ["a", "b", "c"]


@pytest.mark.usefixtures("small_batches_copied")
def test_a_connection_in_autocommit_mode_writes_too(db_url: str) -> None:
    """No transaction to hold a staging table: the portable path is taken."""
    store = connect(db_url)
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        assert not copy_path(conn)
        assert insert_letters(conn, [letter("a"), letter("b")]) == 2
        assert insert_letters(conn, [letter("b"), letter("c")]) == 1
    assert [row[0] for row in stored(store)] == ["a", "b", "c"]


@pytest.mark.usefixtures("small_batches_copied")
def test_a_row_postgresql_refuses_in_the_copy_is_sqlalchemys_error_and_nothing_is_kept(
        pg_url: str) -> None:
    store = connect(pg_url)
    with pytest.raises(DBAPIError, match=r"COPY pg_temp\.letters_staged") as raised, \
            store.engine.begin() as conn:
        insert_letters(conn, [letter("ok"), letter("k" * 301)])  # the key column holds 300
    assert isinstance(raised.value, DataError)
    assert stored(store) == []


def test_a_remembered_conversion_is_reused_only_for_the_same_value_of_the_same_type() -> None:
    """The SQLite writers convert each distinct date, timestamp and flag once per batch
    (:func:`engine.store.db.remembering`); equal values that are stored differently must
    still be converted each, and a list (which could change between rows) every time."""
    seen: list[object] = []

    def convert(value: object) -> str:
        seen.append(value)
        return repr(value)

    stored = db.remembering(convert)
    east8 = CREATED.astimezone(timezone(timedelta(hours=8)))
    tags = ["a"]
    values = [CREATED, CREATED, east8, CREATED, 1, True, 1, date(2017, 10, 31),
              date(2017, 10, 31), tags, tags]
    assert [stored(v) for v in values] == [repr(v) for v in values]
    assert seen == [CREATED, east8, 1, True, date(2017, 10, 31), tags, tags]
