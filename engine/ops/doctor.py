"""``campaign doctor``: is this deployment able to run the daily tick, and if not, what to fix.

An operator setting up a runner (or wondering why the morning's letters did not appear) needs
every precondition checked in one go, each with what to do about it, rather than the first
traceback of the first failing run. Every check is read-only: the doctor never creates a
database file, never upgrades a schema and never starts a job; a SQLite URL that names a
missing file is reported, not created. The database URL is only ever shown through
:func:`engine.store.db.safe_url`, and any text from the driver has the password removed,
because doctor output is what gets pasted into tickets.

Pure of printing: :func:`diagnose` returns the checks; ``engine/commands/doctor.py`` shows them.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from engine.store.db import resolve_url, safe_url

CONNECT_TIMEOUT = 5
"""Seconds before an unreachable PostgreSQL server is reported (a wrong host would hang)."""
TIMEZONE = "Asia/Shanghai"
JOB_TABLE, JOB_ID = "scheduler_jobs", "campaign-tick"  # as engine.runtime.daemon names them


class Level(StrEnum):
    """How a check came out; only an error makes ``campaign doctor`` exit 1."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


WORDS = {Level.OK: "正常", Level.WARNING: "警告", Level.ERROR: "错误"}


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, how it stands, what was seen, and what to do."""

    name: str
    level: Level
    message: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        out = asdict(self)
        out["level"] = self.level.value
        return out


def _scrub(message: str, url: str) -> str:
    """The first line of a driver's message with the URL and its password masked."""
    line = next((s.strip() for s in message.splitlines() if s.strip()), message.strip())
    try:
        password = make_url(url).password
    except Exception:  # an unparsable URL has no password we could know
        password = None
    line = line.replace(url, safe_url(url))
    if password:
        line = line.replace(str(password), "***")
    return line


def _engine(url: str) -> Engine:
    args = {"connect_timeout": CONNECT_TIMEOUT} if url.startswith("postgres") else {}
    return create_engine(url, poolclass=NullPool, connect_args=args)


def check_database(url: str) -> tuple[Check, Engine | None]:
    """Can the database be reached (without creating a missing SQLite file)?"""
    shown = safe_url(url)
    name = "数据库连接"
    try:
        parsed = make_url(url)
    except Exception:
        return Check(name, Level.ERROR, f"数据库地址无法解析：{shown}",
                     "检查 --db 或环境变量 CAMPAIGN_DB，例如 postgresql+psycopg://用户@主机/库名"
                     "（密码放在 PGPASSWORD 中）"), None
    if parsed.get_backend_name() == "sqlite":
        file = parsed.database
        if file and file != ":memory:" and not Path(file).is_file():
            return Check(name, Level.ERROR, f"数据库文件不存在：{file}",
                         "确认 --db 指向正确的文件，或运行 campaign db upgrade 新建数据库"), None
    try:
        engine = _engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # every driver raises its own kinds; all mean "cannot connect"
        detail = _scrub(str(getattr(exc, "orig", None) or exc), url)
        return Check(name, Level.ERROR, f"无法连接数据库 {shown}：{detail}",
                     "检查服务器是否启动、主机和端口、用户名和密码（PGPASSWORD）以及网络"), None
    return Check(name, Level.OK, f"已连接 {shown}（{engine.dialect.name}）"), engine


def check_migrations(engine: Engine) -> Check:
    """Is the schema at the newest migration? (Read only: the doctor never upgrades.)"""
    from engine.store import migrate

    name = "数据库结构版本"
    head = migrate.head()
    try:
        current = migrate.current(engine)
    except Exception as exc:
        return Check(name, Level.ERROR, f"无法读取结构版本：{_scrub(str(exc), str(engine.url))}",
                     "检查数据库用户是否有读取权限")
    if current == head:
        return Check(name, Level.OK, f"结构版本 {current}，已是最新")
    if current is None:
        return Check(name, Level.ERROR, "数据库是空的，还没有建表",
                     "运行 campaign db upgrade 建立数据库结构")
    known = {rev.revision for rev in _revisions()}
    if current not in known:
        return Check(name, Level.ERROR,
                     f"结构版本 {current} 不是本程序已知的版本（最新为 {head}）；"
                     "数据库可能由更新版本的程序写入",
                     "升级本机的 campaign-engine 到与其他运行节点相同的版本")
    return Check(name, Level.ERROR, f"结构版本 {current} 落后于最新版本 {head}",
                 "备份数据库后运行 campaign db upgrade")


def check_bulk_writes(engine: Engine) -> Check | None:
    """PostgreSQL only: may the role stage batches in temporary tables (the ``COPY`` paths of
    imports and the daily letters), or will they take the slower portable way?"""
    from sqlalchemy import Connection

    from engine.store.db import copy_path

    if engine.dialect.name != "postgresql":
        return None
    name = "批量写入"
    try:
        conn: Connection
        with engine.connect() as conn:
            fast = copy_path(conn)
            who = conn.exec_driver_sql("SELECT current_user, current_database()").one()
    except Exception as exc:
        return Check(name, Level.WARNING,
                     f"无法查询临时表权限：{_scrub(str(exc), str(engine.url))}")
    if fast or engine.dialect.driver != "psycopg":
        how = "COPY 经临时表" if fast else "通用方式（驱动不是 psycopg）"
        return Check(name, Level.OK, f"导入和每日文书批量写入走{how}")
    return Check(name, Level.WARNING,
                 f"数据库账号 {who[0]} 不能在库 {who[1]} 中创建临时表：导入和每日文书改走较慢的"
                 "通用写入方式（导入约慢三倍），结果相同",
                 f'如允许，由管理员执行 GRANT TEMPORARY ON DATABASE "{who[1]}" TO "{who[0]}"')


def _revisions() -> list[object]:
    from alembic.script import ScriptDirectory

    from engine.store import migrate

    return list(ScriptDirectory.from_config(migrate.alembic_config()).walk_revisions())


def check_scheduler(engine: Engine, now: datetime) -> Check:
    """The daemon's persisted job: there at all, and when it next runs."""
    name = "调度任务"
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(JOB_TABLE):
                return Check(name, Level.WARNING,
                             f"没有调度表 {JOB_TABLE}：campaign daemon 从未在此数据库上运行",
                             "如用 cron 定时运行 campaign run，可忽略；否则启动 campaign daemon")
            job = conn.execute(text(f"SELECT next_run_time FROM {JOB_TABLE} WHERE id = :id"),
                               {"id": JOB_ID}).first()
    except Exception as exc:
        return Check(name, Level.ERROR, f"无法读取调度表：{_scrub(str(exc), str(engine.url))}",
                     "检查数据库用户对 scheduler_jobs 表的读取权限")
    if job is None:
        return Check(name, Level.WARNING, f"调度表 {JOB_TABLE} 中没有每日运行任务 {JOB_ID}",
                     "启动 campaign daemon（它会登记任务）；如用 cron 运行可忽略")
    stamp = job.next_run_time
    if stamp is None:
        return Check(name, Level.WARNING, f"每日运行任务 {JOB_ID} 已暂停（没有下次运行时间）",
                     "重新启动 campaign daemon")
    due = datetime.fromtimestamp(float(stamp), UTC)
    shown = due.isoformat(timespec="minutes")
    if due < now:
        return Check(name, Level.WARNING, f"每日运行任务本应在 {shown} 运行，尚未运行",
                     "确认 campaign daemon 正在运行；它启动时会补跑一次")
    return Check(name, Level.OK, f"每日运行任务已登记，下次运行 {shown}")


def check_timezone(zone: str = TIMEZONE) -> Check:
    """Time zone data: the tick's day is the campaign's day in its zone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = "时区数据"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        return Check(name, Level.ERROR, f"找不到时区 {zone}（{exc}）",
                     "安装时区数据：pip install tzdata，或安装系统的 tzdata 软件包")
    return Check(name, Level.OK, f"时区 {zone} 可用")


def check_calendar(today: date) -> Check:
    """chinese-calendar must know this year and next, or working-day counts will fail."""
    name = "法定节假日日历"
    try:
        from engine.spec.workdays import known_years
        first, last = known_years()
    except Exception as exc:
        return Check(name, Level.ERROR, f"无法读取 chinese-calendar：{exc}",
                     "安装或重装：pip install -U chinese-calendar")
    if last < today.year:
        return Check(name, Level.ERROR,
                     f"chinese-calendar 只收录到 {last} 年，不含今年（{today.year} 年）",
                     "升级：pip install -U chinese-calendar")
    if last < today.year + 1:
        return Check(name, Level.WARNING,
                     f"chinese-calendar 只收录到 {last} 年，不含明年（{today.year + 1} 年）；"
                     "跨年的工作日期限将无法计算",
                     "国务院公布明年放假安排后升级：pip install -U chinese-calendar")
    return Check(name, Level.OK, f"chinese-calendar 收录 {first}—{last} 年")


def check_templates(directory: Path | None = None) -> Check:
    """The letter templates the tick renders with."""
    from engine.letters.render import TEMPLATES_ENV, default_template_dir

    name = "文书模板"
    where = directory or default_template_dir()
    found = sorted(where.glob("letters/*.j2")) if where.is_dir() else []
    if not found:
        return Check(name, Level.ERROR, f"模板目录 {where} 不存在或没有文书模板",
                     f"检查安装是否完整，或设置环境变量 {TEMPLATES_ENV} 指向模板目录")
    return Check(name, Level.OK, f"模板目录 {where}（{len(found)} 个模板）")


def check_outbox(outbox: Path) -> Check:
    """Can letters be written there? Tried with a real temporary file, then removed."""
    name = "发件目录"
    if outbox.exists() and not outbox.is_dir():
        return Check(name, Level.ERROR, f"{outbox} 不是目录", "换一个目录作为 --outbox")
    probe_in = outbox if outbox.is_dir() else next(
        (p for p in outbox.parents if p.exists()), Path("."))
    try:
        with tempfile.NamedTemporaryFile(dir=probe_in, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check(name, Level.ERROR, f"无法在 {probe_in} 中写入文件（{exc.strerror}）",
                     f"给运行 campaign 的用户以 {probe_in} 的写权限，或换一个目录")
    if not outbox.is_dir():
        return Check(name, Level.WARNING, f"{outbox} 尚不存在，首次发送时会新建",
                     "如路径有误请改正；否则无需处理")
    return Check(name, Level.OK, f"{outbox} 可写")


def diagnose(db_url: str | None = None, *, outbox: Path | None = None,
             now: datetime | None = None) -> list[Check]:
    """Every check, in the order an operator would fix them."""
    now = now or datetime.now(UTC)
    url = resolve_url(db_url)
    connected, engine = check_database(url)
    checks = [connected]
    if engine is not None:
        try:
            checks += [check_migrations(engine), check_scheduler(engine, now)]
            if (bulk := check_bulk_writes(engine)) is not None:
                checks.append(bulk)
        finally:
            engine.dispose()
    checks += [check_timezone(), check_calendar(now.date()), check_templates()]
    if outbox is not None:
        checks.append(check_outbox(outbox))
    return checks


def failed(checks: list[Check]) -> bool:
    return any(c.level is Level.ERROR for c in checks)


__all__ = ["WORDS", "Check", "Level", "diagnose", "failed"]
