"""The fast import paths store and read exactly what the reference paths do.

``lead import`` on SQLite inserts through :class:`engine.store.bulk.SqliteBulk` (DBAPI
executemany, values pre-bound, events by id range), and on PostgreSQL through
:class:`engine.store.bulk.PostgresBulk` (``COPY`` and one statement), instead of SQLAlchemy
Core with RETURNING;
XLSX files are read with calamine instead of openpyxl; the row parser memoises typed cells.
Each test runs both ways and compares, so a speed-up cannot silently change data.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine

from engine.cli import main
from engine.intake import iter_rows, read_file, xlsx_fast
from engine.intake import readers as intake_readers
from engine.spec.loader import load_definition
from engine.store import bulk as bulk_module
from engine.store import db, definitions, records
from engine.store.db import connect
from tests.backends import fresh_database
from tests.conftest import CAMPAIGNS

NOW = datetime(2017, 10, 24, 1, 2, 3, 456789, tzinfo=UTC)


class FixedClock(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> FixedClock:  # type: ignore[override]
        return cls.fromtimestamp(NOW.timestamp(), tz)


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored value with its SQLite storage class, table by table, in id order."""
    with sqlite3.connect(db) as conn:
        out = {}
        for table in ("leads", "cases", "events"):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            picks = ", ".join(f"{c}, typeof({c})" for c in cols)
            out[table] = conn.execute(f"SELECT {picks} FROM {table} ORDER BY id").fetchall()
    return out


def new_records() -> list[records.NewRecord]:
    out = []
    for i in range(40):
        values: dict[str, Any] = {
            "right_holder": f"权利人{i}（苏州）", "received_on": date(2017, 10, 1 + i % 28),
            "ownership_clear": [True, False, None][i % 3], "nice_class": str(i % 45),
            "goods_value": Decimal("1234.50"), "goods_count": i, "seen_on": date(2017, 1, 2),
            "note": "引号\"与\\反斜杠", "state": "ignored", "extra": "ignored"}
        if i % 4 == 0:
            values = {"mark": f"商标{i}"}
        out.append(records.NewRecord(f"K{i % 30}", values, f"E{i}" if i % 2 else None,
                                     "jiangsu_amr" if i % 3 else None))
    return out


def case_records() -> list[records.NewRecord]:
    return [records.NewRecord(f"AJ-{i}", {"amount_involved": Decimal("2.5") * i,
                                          "penalty_published": bool(i % 2),
                                          "opened_on": date(2017, 9, 1 + i)}, f"AJ-{i}")
            for i in range(12)]


def store_both_ways(tmp_path: Path, bulk: bool, monkeypatch: pytest.MonkeyPatch,
                    ) -> tuple[list[records.Inserted], dict[str, list[tuple[Any, ...]]]]:
    monkeypatch.setattr(records, "datetime", FixedClock)
    monkeypatch.setattr(records, "BATCH", 7)
    db = tmp_path / f"{'bulk' if bulk else 'core'}.db"
    store = connect(f"sqlite:///{db}")
    def_id = definitions.register(store, load_definition(CAMPAIGNS / "sourcing_2017.yaml"),
                                  actor="测试").definition_id
    done = []
    for batch in (new_records()[:25], new_records()):
        done.append(records.insert_records(store, "lead", "sourcing_2017", def_id, batch,
                                           actor="测试", initial_state="collected", bulk=bulk))
    done.append(records.insert_records(store, "case", "sourcing_2017", def_id, case_records(),
                                       actor="测试", initial_state="opened", bulk=bulk))
    store.engine.dispose()
    return done, dump(db)


def test_bulk_sqlite_path_stores_byte_for_byte_what_sqlalchemy_core_stores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    core_done, core = store_both_ways(tmp_path, False, monkeypatch)
    bulk_done, bulk = store_both_ways(tmp_path, True, monkeypatch)
    assert bulk_done == core_done
    assert core_done[1].inserted == 5 and len(core_done[1].duplicates) == 35
    for table in ("leads", "cases", "events"):
        assert len(bulk[table]) == len(core[table]) > 0
        for got, want in zip(bulk[table], core[table], strict=True):
            assert got == want
    assert {row[-2] for row in core["events"]} == {"null"}  # the JSON null SQLAlchemy writes


def pg_dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored value, as PostgreSQL's text output spells it, table by table, in id order."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {table: [tuple(r) for r in conn.exec_driver_sql(
                f"SELECT t::text FROM {table} t ORDER BY id")]
                for table in ("leads", "cases", "events")}
    finally:
        engine.dispose()


def test_bulk_postgresql_path_stores_what_sqlalchemy_core_stores(
        pg_server: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "datetime", FixedClock)
    monkeypatch.setattr(records, "BATCH", 7)
    monkeypatch.setattr(db, "COPY_MIN_ROWS", 7)  # the batches of 7 through COPY, the rest not
    copies: list[str] = []
    real = bulk_module.stage
    monkeypatch.setattr(bulk_module, "stage", lambda conn, table, columns, rows: (
        copies.append(table), real(conn, table, columns, rows))[1])
    dumps, outcomes = [], []
    for bulk in (False, True):
        with contextmanager(fresh_database)(pg_server) as url:
            store = connect(url)
            def_id = definitions.register(
                store, load_definition(CAMPAIGNS / "sourcing_2017.yaml"), actor="测试",
            ).definition_id
            done = [records.insert_records(store, "lead", "sourcing_2017", def_id, batch,
                                           actor="测试", initial_state="collected", bulk=bulk)
                    for batch in (new_records()[:25], new_records())]
            done.append(records.insert_records(store, "case", "sourcing_2017", def_id,
                                               case_records(), actor="测试",
                                               initial_state="opened", bulk=bulk))
            store.engine.dispose()
            outcomes.append(done)
            dumps.append(pg_dump(url))
    assert len(copies) == 9  # 25 + 40 leads and 12 cases in batches of 7: 3 + 5 + 1 full ones
    assert outcomes[1] == outcomes[0]
    assert outcomes[0][1].inserted == 5 and len(outcomes[0][1].duplicates) == 35
    for table in ("leads", "cases", "events"):
        assert len(dumps[1][table]) == len(dumps[0][table]) > 0
        for got, want in zip(dumps[1][table], dumps[0][table], strict=True):
            assert got == want


def write_leads_csv(path: Path) -> Path:
    rows = ["线索编号,报送单位,权利人,商标,涉嫌侵权人,涉嫌侵权行为地,收集日期,商标权属是否明晰",
            "A-1,江苏省市场监督管理局,甲公司,甲,乙,江苏省苏州市某路,2017-10-01,是",
            "A-2,jiangsu_amr,甲公司,甲,丙,浙江省杭州市,2017年10月2日,否",
            ",,丁公司,丁,戊,,2017-10-03,",
            "A-3,,丁公司,丁,戊,,2017-02-30,可能",
            "A-1,江苏省市场监督管理局,甲公司,甲,乙,,2017-10-01,是",
            "Ａ－4,beijing_amr,己公司,己,庚,北京市,20171004,Y"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_cli_import_stores_the_same_rows_and_events_either_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "datetime", FixedClock)
    source = write_leads_csv(tmp_path / "leads.csv")
    real = records.insert_records
    dumps, outputs = [], []
    for bulk in (False, True):
        db = tmp_path / f"cli-{bulk}.db"
        url = f"sqlite:///{db}"
        runner = CliRunner()
        assert runner.invoke(main, ["load", str(CAMPAIGNS / "sourcing_2017.yaml"), "--db",
                                    url]).exit_code == 0
        monkeypatch.setattr(records, "insert_records",
                            lambda *a, _b=bulk, **k: real(*a, **k, bulk=_b))
        for _ in range(2):  # the second import finds every row already stored
            result = runner.invoke(main, ["lead", "import", str(source), "--campaign",
                                          "sourcing_2017", "--actor", "张三", "--db", url])
            assert result.exit_code == 0, result.output
            outputs.append(result.output)
        dumps.append(dump(db))
    assert dumps[0] == dumps[1] and len(dumps[0]["leads"]) == 4
    assert outputs[:2] == outputs[2:]
    assert "新增 4 条，已存在 0 条，拒收 2 行" in outputs[0]
    assert "新增 0 条，已存在 4 条" in outputs[1]


def typed_workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active["A1"] = "封面"
    ws = book.create_sheet("线索")
    for at, header in zip(("B2", "C2", "D2", "E2", "G2"),
                          ("线索编号", "权利人", "收集日期", "金额", "备注"), strict=True):
        ws[at] = header
    cells: list[list[Any]] = [
        ["A-1", "甲", datetime(2017, 10, 1), 1234, "x"],
        ["A-2", 12345678, datetime(2017, 10, 1, 8, 30), 1234.5, True],
        [None, None, None, None, None],
        ["A-3", " 乙 ", date(2017, 10, 3), 10**17, False],
        ["A-4", "丙", time(8, 30), timedelta(hours=30), 0.1],
        ["A-5", "", "2017-10-05", -0.0, "=1+1"],
    ]
    for r, row in enumerate(cells, start=3):
        for c, value in zip("BCDEG", row, strict=True):
            if value is not None:
                ws[f"{c}{r}"] = value
    ws["I9"] = "无列名的数据"
    book.save(path)
    return path


def test_xlsx_read_with_calamine_gives_openpyxl_values(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = typed_workbook(tmp_path / "t.xlsx")
    assert xlsx_fast.fits(path)
    fast = list(iter_rows(path, sheet="线索", header_row=2))
    fast_table = intake_readers.open_table(path, sheet="线索", header_row=2)
    assert isinstance(fast_table, xlsx_fast.CalamineTable)
    fast_table.close()
    monkeypatch.setattr(xlsx_fast, "fits", lambda _path: False)
    slow = list(iter_rows(path, sheet="线索", header_row=2))
    assert fast == slow and [n for n, _ in fast] == [3, 4, 6, 7, 8]  # row 9: no header
    assert all(type(a) is type(b) for (_, x), (_, y) in zip(fast, slow, strict=True)
               for a, b in zip(x.values(), y.values(), strict=True))


def test_xlsx_import_results_and_warnings_match_openpyxl(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = typed_workbook(tmp_path / "t.xlsx")
    fast = read_file(path, "lead", sheet="线索", header_row=2)
    monkeypatch.setattr(xlsx_fast, "fits", lambda _path: False)
    slow = read_file(path, "lead", sheet="线索", header_row=2)
    assert fast == slow and fast.warnings and fast.accepted and fast.rejected


def test_a_large_sheet_streams_through_openpyxl(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = typed_workbook(tmp_path / "t.xlsx")
    monkeypatch.setattr(xlsx_fast, "FAST_MAX_XML", 100)
    assert not xlsx_fast.fits(path)
    table = intake_readers.open_table(path, sheet="线索", header_row=2)
    assert isinstance(table, intake_readers.XlsxTable)
    table.close()


def test_memoised_cells_are_refused_every_time_with_the_same_reason(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("线索编号,收集日期,商标权属是否明晰\n" + "".join(
        f"A-{i},2017-02-30,可能\n" for i in range(3)) + "A-9,2017-10-01,是\n", encoding="utf-8")
    result = read_file(path, "lead")
    assert [r.row for r in result.rejected] == [2, 3, 4]
    assert len({tuple(r.problems) for r in result.rejected}) == 1
    assert result.accepted[0].values["received_on"] == date(2017, 10, 1)


def test_rows_parsed_by_position_match_rows_parsed_by_header(tmp_path: Path) -> None:
    """Intake parses cells by their column's position; ``parse`` takes ``{header: cell}``."""
    from engine.intake import Intake, RowParser, default_mapping

    path = tmp_path / "p.csv"
    path.write_text("线索编号,权利人,,联系人,联系方式,收集日期,商标权属是否明晰\n"
                    "A-1, 甲 ,x,张三,138,2017-10-01,是\n"
                    "A-2,乙\n"  # a short row
                    "A-3,丙,,李四,,2017-02-30,可能,多出的格\n"  # a long one, two refusals
                    ",,,,,,\n"
                    "A-1,甲,,,,,\n", encoding="utf-8")
    with Intake(path, "lead") as intake:
        got = list(intake)
    parser = RowParser(default_mapping("lead"))
    want = [parser.parse(n, raw) for n, raw in iter_rows(path)]
    assert [r.row for r in got] == [r.row for r in want] == [2, 3, 4, 6]
    assert got[:3] == want[:3] and got[3].reason.startswith("与第 2 行")  # in-file duplicate
    assert got[0].values["right_holder_contact"] == "张三；138"
