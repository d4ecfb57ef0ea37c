"""The store, on SQLite and on a real PostgreSQL: schema versions, definitions, records, audit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, delete, event, func, select, text, update
from sqlalchemy.exc import DBAPIError

from engine.records.lifecycle import LifecycleMachine, Moved, Refused
from engine.runtime.state import recorded_keys
from engine.spec import load_definition
from engine.store import definitions, migrate, records
from engine.store.db import Store, StoreError, connect, safe_url
from engine.store.tables import events, metadata
from tests.conftest import CAMPAIGNS

COMPLETE_LEAD = {
    "right_holder": "某某集团有限公司", "mark": "某某", "registration_number": "1234567",
    "right_holder_contact": "李四 010-00000000", "suspected_infringer": "某商贸公司",
    "infringement_place": "浙江省杭州市", "mark_usage": "在同类商品上使用近似标识",
    "ownership_clear": True,
}


@pytest.fixture
def store(db_url: str) -> Store:
    return connect(db_url)


@pytest.fixture
def sourcing(store: Store) -> tuple[Store, int, LifecycleMachine]:
    definition = load_definition(CAMPAIGNS / "sourcing_2017.yaml")
    reg = definitions.register(store, definition, actor="测试")
    return store, reg.definition_id, LifecycleMachine(definition.campaign.lifecycles.lead, "lead")


def add_lead(store: Store, definition_id: int, key: str, **values: object) -> int:
    records.insert_records(store, "lead", "sourcing_2017", definition_id,
                           [records.NewRecord(key, values, key, "jiangsu_amr")], actor="测试",
                           initial_state="collected")
    return next(r["id"] for r in records.listing(store, "lead") if r["natural_key"] == key)


def test_a_fresh_database_gets_the_newest_schema_on_first_use(store: Store) -> None:
    assert migrate.current(store.engine) == migrate.head() == "0008"
    assert connect(store.url).engine.dialect.name == store.dialect  # a second open is a no-op


def test_migrations_build_exactly_the_tables_the_code_uses(store: Store) -> None:
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []


def test_migrations_build_every_index_as_the_code_declares_it_conditions_included(
        store: Store, tmp_path: Path) -> None:
    """Alembic's comparison above does not see a partial index's condition: a migration and
    ``tables.py`` could disagree on which letters an index holds and both tests would pass.
    So each index the migrations built is compared, as the database itself describes it,
    with the one ``metadata.create_all`` builds from the code."""
    tables = set(metadata.tables)
    if store.dialect == "sqlite":
        declared = create_engine(f"sqlite:///{tmp_path / 'declared.db'}")
        metadata.create_all(declared)
        query = ("SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'index' "
                 "AND sql IS NOT NULL")

        def indexes(engine: Engine) -> dict[str, str]:
            with engine.connect() as conn:
                return {name: " ".join(sql.replace('"', "").split())
                        for table, name, sql in conn.exec_driver_sql(query) if table in tables}
        migrated, wanted = indexes(store.engine), indexes(declared)
        declared.dispose()
    else:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("CREATE SCHEMA declared")
            metadata.create_all(conn.execution_options(schema_translate_map={None: "declared"}))
            rows = conn.exec_driver_sql(
                "SELECT schemaname, tablename, indexname, replace(indexdef, schemaname || '.', '')"
                " FROM pg_indexes WHERE schemaname IN ('public', 'declared')").all()
        migrated = {n: d for s, t, n, d in rows if s == "public" and t in tables}
        wanted = {n: d for s, t, n, d in rows if s == "declared"}
    assert len(wanted) >= 13
    assert migrated == wanted


def test_the_tick_reads_the_keys_of_written_letters_from_indexes_alone(db_url: str) -> None:
    """Every day the tick asks which letters of its live obligations, and which phase notices
    (one per county and phase, nationally), are written already; the answer must come from the
    partial indexes that hold just those letters, not from a table row per letter. The kind is
    part of the statement's text (checked here; the plans below are made with the values), so
    that a plan made without them, PostgreSQL's generic plan of a statement the driver has
    prepared, can still prove the phase notices' index applies."""
    store = connect(db_url)
    seen: list[tuple[str, object]] = []

    def keep(conn: object, cursor: object, statement: str, parameters: object, *_: object,
             ) -> None:
        seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", keep)
    with store.engine.connect() as conn:
        recorded_keys(conn, "sourcing_2017", [1, 2, 3])
        event.remove(store.engine, "before_cursor_execute", keep)
        explain = "EXPLAIN QUERY PLAN" if store.dialect == "sqlite" else "EXPLAIN"
        if store.dialect == "postgresql":  # an empty table: scanning it would be cheapest
            conn.exec_driver_sql("SET enable_seqscan = off")
        plans = [" ".join(str(r[-1]) for r in conn.exec_driver_sql(
            f"{explain} {statement}", parameters))  # type: ignore[arg-type]
            for statement, parameters in seen]
        partial = {r[1]: r[4] for r in conn.exec_driver_sql("PRAGMA index_list(letters)")
                   } if store.dialect == "sqlite" else {}
    assert len(plans) == 2, plans
    if partial:  # a supervision letter, most of a tick's, costs them nothing to insert
        assert partial["ix_letters_phase_notice_key"] == partial["ix_letters_obligation_key"] == 1
    phase, obligation = plans
    assert "'phase_start'" in seen[0][0]
    if store.dialect == "sqlite":
        assert "USING COVERING INDEX ix_letters_phase_notice_key" in phase, phase
        assert "USING COVERING INDEX ix_letters_obligation_key" in obligation, obligation
    else:
        assert "ix_letters_phase_notice_key" in phase, phase
        assert "ix_letters_obligation_key" in obligation, obligation


def test_loading_the_same_campaign_twice_keeps_one_version_and_a_change_makes_another(
        store: Store, tmp_path: Path) -> None:
    shutil.copytree(CAMPAIGNS, tmp_path / "c")
    path = tmp_path / "c" / "sourcing_2017.yaml"
    first = definitions.register(store, load_definition(path), actor="测试")
    again = definitions.register(store, load_definition(path), actor="测试")
    assert (first.version, first.created, again.created) == (1, True, False)
    path.write_text(path.read_text("utf-8").replace("{min: 5,", "{min: 6,"), "utf-8")
    second = definitions.register(store, load_definition(path), actor="测试")
    assert (second.version, second.created) == (2, True)
    latest_id, latest = definitions.latest(store, "sourcing_2017")
    assert latest_id == second.definition_id and latest.campaign.reports[0].quota.min == 6


def test_a_definition_file_changed_after_loading_is_not_acted_on(store: Store,
                                                                 tmp_path: Path) -> None:
    shutil.copytree(CAMPAIGNS, tmp_path / "c")
    path = tmp_path / "c" / "sourcing_2017.yaml"
    definitions.register(store, load_definition(path), actor="测试")
    path.write_text(path.read_text("utf-8") + "\n# edited\n", "utf-8")
    with pytest.raises(StoreError, match="被修改"):
        definitions.latest(store, "sourcing_2017")


def test_reimporting_the_same_leads_adds_nothing(sourcing: tuple) -> None:
    store, def_id, _ = sourcing
    batch = [records.NewRecord(f"k{i}", {"right_holder": f"权利人{i}"}) for i in range(12)]
    first = records.insert_records(store, "lead", "sourcing_2017", def_id, batch, actor="测试",
                                   initial_state="collected")
    second = records.insert_records(store, "lead", "sourcing_2017", def_id, batch, actor="测试",
                                    initial_state="collected")
    assert (first.inserted, len(second.duplicates), second.inserted) == (12, 12, 0)
    assert len(list(records.listing(store, "lead"))) == 12


def test_a_lead_missing_its_place_of_infringement_cannot_be_consolidated(sourcing: tuple) -> None:
    store, def_id, machine = sourcing
    values = {k: v for k, v in COMPLETE_LEAD.items() if k != "infringement_place"}
    lead = add_lead(store, def_id, "L-1", **values)
    outcome = records.move(store, "lead", lead, "consolidate", machine, actor="张三")
    assert isinstance(outcome, Refused)
    assert [f.field for f in outcome.failures] == ["infringement_place"]
    assert "涉嫌侵权行为地" in outcome.message() and "withdraw" in outcome.valid_triggers
    assert records.get(store, "lead", lead)["state"] == "collected"
    assert [e["trigger"] for e in records.history(store, "lead", lead)] == ["create"]


def test_every_state_change_is_in_the_audit_trail_with_actor_and_reason(sourcing: tuple) -> None:
    store, def_id, machine = sourcing
    lead = add_lead(store, def_id, "L-2", **COMPLETE_LEAD)
    moved = records.move(store, "lead", lead, "consolidate", machine, actor="张三",
                         reason="材料齐全，省局汇总")
    assert moved == Moved("consolidate", "collected", "consolidated")
    trail = records.history(store, "lead", lead)
    assert [(e["from_state"], e["to_state"], e["actor"]) for e in trail] == [
        (None, "collected", "测试"), ("collected", "consolidated", "张三")]
    assert trail[-1]["reason"] == "材料齐全，省局汇总" and trail[-1]["occurred_at"] is not None


def test_a_move_without_an_actor_is_refused(sourcing: tuple) -> None:
    store, def_id, machine = sourcing
    lead = add_lead(store, def_id, "L-3", **COMPLETE_LEAD)
    with pytest.raises(ValueError, match="actor"):
        records.move(store, "lead", lead, "consolidate", machine, actor=" ")


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_the_database_refuses_to_edit_or_delete_an_audit_event(sourcing: tuple,
                                                               statement: str) -> None:
    store, def_id, _ = sourcing
    add_lead(store, def_id, "L-4", **COMPLETE_LEAD)
    change = update(events).values(actor="篡改") if statement == "update" else delete(events)
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(change)
    with store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(events)) == 1
        assert conn.scalar(select(events.c.actor)) == "测试"


def test_the_records_api_offers_no_way_to_change_an_event() -> None:
    names = [n for n in dir(records) if not n.startswith("_")]
    assert not [n for n in names if any(w in n for w in ("delete", "edit", "remove", "purge"))]


def test_safe_url_never_shows_a_password() -> None:
    shown = safe_url("postgresql+psycopg://campaign:s3cret@db.example:5432/campaign")
    assert "s3cret" not in shown and "***" in shown


def test_an_unreachable_database_is_a_clear_error_without_its_password() -> None:
    with pytest.raises(StoreError) as err:
        connect("postgresql+psycopg://u:s3cret@127.0.0.1:1/nope?connect_timeout=2")
    assert "s3cret" not in str(err.value) and "无法连接数据库" in str(err.value)


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = connect(f"sqlite:///{tmp_path / 'c.db'}")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
