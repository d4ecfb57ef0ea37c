"""The lead imports measured: the files staff would send in, the engine's validated import,
and raw ``sqlite3`` executemany of the same rows."""

from __future__ import annotations

import csv
import os
import sqlite3
import time
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

from bench.generate import ROOT, province_ids

LEAD_HEADERS = ["线索编号", "报送单位", "权利人", "商标", "商标注册号", "核定使用类别",
                "商标权属是否明晰", "维权联系人及联系方式", "涉嫌侵权人", "涉嫌侵权行为地",
                "侵权行为地行政区划代码", "收集日期", "线索简要情况"]


def lead_rows(n: int) -> list[list[str]]:
    """``n`` valid lead rows as staff fill them in (Chinese headers, every value checked)."""
    provinces = province_ids()
    out = []
    for i in range(n):
        pid, _name, division = provinces[i % len(provinces)]
        out.append([f"XS{i:08d}", pid, f"权利人{i % 5000}有限公司", f"商标{i % 997}",
                    str(10_000_000 + i), str(i % 45 + 1), "是", f"张三 1380000{i % 10000:04d}",
                    f"涉嫌侵权人{i}", "某市某区某路1号", division,
                    f"2017-10-{i % 28 + 1:02d}", "在某市场发现销售假冒商品"])
    return out


def write_csv(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(LEAD_HEADERS)
        writer.writerows(lead_rows(n))
    return path


def write_xlsx(path: Path, n: int) -> Path:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("线索")
    ws.append(LEAD_HEADERS)
    for row in lead_rows(n):
        ws.append(row)
    wb.save(path)
    return path


def import_db(root: Path, tag: str) -> str:
    """A fresh store with sourcing_2017 loaded (untimed), for one import."""
    db = root / f"import-{tag}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return load_import_campaign(f"sqlite:///{db}")


def load_import_campaign(url: str) -> str:
    """``url`` with sourcing_2017 loaded into it, the campaign the imports go to."""
    from engine.spec.loader import load_definition
    from engine.store import definitions as defs
    from engine.store.db import connect

    store = connect(url)
    defs.register(store, load_definition(ROOT / "campaigns/sourcing_2017.yaml"), actor="bench")
    store.engine.dispose()
    return url


def import_rate(path: Path, url: str, rows: int) -> float:
    """Rows/s of ``campaign lead import`` (the click command, in process, full validation;
    its summary line and progress bar go to /dev/null)."""
    from engine.cli import main

    start = time.perf_counter()
    with open(os.devnull, "w") as null, redirect_stdout(null), redirect_stderr(null):
        try:
            main.main(["lead", "import", str(path), "--campaign", "sourcing_2017", "--actor",
                       "bench", "--db", url], standalone_mode=False)
        except SystemExit as exc:
            if exc.code:
                raise
    elapsed = time.perf_counter() - start
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM leads")).scalar_one()
    engine.dispose()
    if stored != rows:
        raise AssertionError(f"import stored {stored} of {rows} rows")
    return rows / elapsed


def raw_rate(path: Path, url: str) -> float:
    """Rows/s of the floor: read the same CSV with ``csv`` and executemany the same values into
    ``leads`` with ``sqlite3`` in one transaction (no validation, no audit events)."""
    db = url.removeprefix("sqlite:///")
    conn = sqlite3.connect(db, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    def_id = conn.execute("SELECT max(id) FROM definitions").fetchone()[0]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    sql = ("INSERT INTO leads (campaign_id, definition_id, natural_key, external_id, state, "
           "body_id, right_holder, mark, registration_number, nice_class, ownership_clear, "
           "right_holder_contact, suspected_infringer, infringement_place, "
           "infringement_division, received_on, summary, extra, state_since, created_at, "
           "updated_at, row_version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)")
    start = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        conn.execute("BEGIN")
        cur = conn.executemany(sql, (
            ("sourcing_2017", def_id, f"{r[1]}/{r[0]}", r[0], "collected", r[1], r[2], r[3],
             r[4], r[5], r[6] == "是", r[7], r[8], r[9], r[10], r[11], r[12], "{}", now, now,
             now) for r in reader))
        rows = cur.rowcount
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return rows / elapsed
