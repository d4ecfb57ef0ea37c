"""Delivering letters: to the outbox folder and through a real SMTP server on loopback.

Every letter arrives once: after a temporary failure and a retry, after a rerun, and after a
sender that died between sending and recording (that letter is reported, never resent blind),
and after a server that took a message but never confirmed it.
"""

from __future__ import annotations

import asyncio
import email
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from click.testing import CliRunner, Result
from sqlalchemy import func, select, update

from engine.cli import main
from engine.letters.channels import FileChannel, Outgoing, SmtpChannel
from engine.letters.delivery import _claim, _hand_over, deliver, resend
from engine.letters.outbox import OutboxError, letter_path, safe_component
from engine.store.db import Store, connect
from engine.store.tables import events, letters
from tests.conftest import CAMPAIGNS


def cli(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--db", db_url], catch_exceptions=False)


@pytest.fixture
def reminded(db_url: str) -> str:
    """sourcing_2017 run on 24 October 2017: a reminder to each of 31 provinces, recorded."""
    assert cli(db_url, "load", str(CAMPAIGNS / "sourcing_2017.yaml")).exit_code == 0
    assert cli(db_url, "run", "--at", "2017-10-24").exit_code == 0
    return db_url


def statuses(db_url: str) -> dict[str, int]:
    with connect(db_url).engine.connect() as conn:
        return dict(conn.execute(select(letters.c.status, func.count()).group_by(
            letters.c.status)).all())


# --- the outbox -------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "safe"), [
    ("../../x", "_x"),
    ("江苏省/南京市", "江苏省_南京市"),
    ("..", "_"),
    ("a\x00b\nc", "a_b_c"),
    ("C:\\Windows\\evil", "C_Windows_evil"),
    (".hidden", "hidden"),
    ("浙江省市场监督管理局", "浙江省市场监督管理局"),
], ids=["parent_dirs", "slash", "dotdot", "control_chars", "windows_path", "hidden", "plain"])
def test_names_from_data_become_harmless_file_name_parts(name: str, safe: str) -> None:
    assert safe_component(name) == safe


def test_a_body_named_dot_dot_slash_writes_inside_the_outbox_only(tmp_path: Path) -> None:
    root = tmp_path / "outbox"
    letter = Outgoing(7, "k", "../../etc", "reminder", "x", "../../x", date(2017, 10, 24),
                      "提醒函", "正文")
    where = Path(FileChannel(root).send(letter))
    assert where.resolve().is_relative_to(root.resolve())
    assert where.read_text(encoding="utf-8") == "正文"
    assert [p.name for p in tmp_path.iterdir()] == ["outbox"]  # nothing written beside it


def test_a_symlinked_campaign_folder_cannot_lead_outside(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "outbox", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / "sourcing_2017").symlink_to(elsewhere)
    with pytest.raises(OutboxError):
        letter_path(root, "sourcing_2017", date(2017, 10, 24), 1, "reminder", "北京", "md")


def test_letters_go_to_the_outbox_once_by_date_and_campaign(reminded: str,
                                                             tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    first = cli(reminded, "letters", "send", "--outbox", str(outbox))
    assert first.exit_code == 0 and "已发送 31 份" in first.output
    files = sorted((outbox / "sourcing_2017" / "2017-10-24").iterdir())
    assert len(files) == 31 and all("提醒函" in f.name for f in files)
    assert any("浙江省市场监督管理局" in f.name for f in files)
    again = cli(reminded, "letters", "send", "--outbox", str(outbox))
    assert "已发送 0 份" in again.output
    assert statuses(reminded) == {"sent": 31}
    with connect(reminded).engine.connect() as conn:
        path, body = conn.execute(select(letters.c.outbox_path, letters.c.body).limit(1)).one()
    assert Path(path).read_text(encoding="utf-8") == body


def test_letters_list_show_and_render(reminded: str, tmp_path: Path) -> None:
    listed = cli(reminded, "letters", "list", "--format", "json", "--recipient", "zhejiang_amr")
    [item] = [yaml.safe_load(line) for line in listed.output.splitlines()]
    assert item["recipient_name"] == "浙江省市场监督管理局" and item["status"] == "planned"
    shown = cli(reminded, "letters", "show", str(item["id"]))
    assert "提醒函" in shown.output and "2017年10月31日前" in shown.output
    out = tmp_path / "letter.md"
    assert cli(reminded, "letters", "render", str(item["id"]), "--output", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("# 关于按时报送")
    assert cli(reminded, "letters", "show", "999999").exit_code == 1
    docx = cli(reminded, "letters", "render", str(item["id"]), "--format", "docx", "--output",
               str(tmp_path / "letter"))
    said = docx.output.strip().removeprefix("已写入 ")
    assert said == str(tmp_path / "letter.docx") and Path(said).stat().st_size > 0


# --- mail -------------------------------------------------------------------------------------
class Mailbox:
    """An SMTP server's receiving end; ``refuse`` makes the next N deliveries fail with 451."""

    def __init__(self) -> None:
        self.received: list[email.message.Message] = []
        self.refuse = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 mailbox busy, try again later"
        self.received.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:  # aiosmtpd checks readiness by connecting, so not port 0
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(box: Mailbox) -> Iterator[int]:
    """A real SMTP server on loopback handing what it receives to ``box``; yields its port."""
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with serving(box) as port:
        yield box, port


def smtp_channel(db_url: str, tmp_path: Path, port: int, **options: Any) -> SmtpChannel:
    """An SMTP channel to the loopback server, with an address for every recipient."""
    return SmtpChannel("127.0.0.1", port, "tmo@example.gov.cn",
                       yaml.safe_load(addresses(tmp_path, db_url).read_text()), **options)


def addresses(tmp_path: Path, db_url: str) -> Path:
    with connect(db_url).engine.connect() as conn:
        ids = set(conn.scalars(select(letters.c.recipient_id)))
    path = tmp_path / "addresses.yaml"
    path.write_text(yaml.safe_dump({b: f"{b}@example.gov.cn" for b in ids}), encoding="utf-8")
    return path


def send_mail(db_url: str, port: int, book: Path, *extra: str) -> Result:
    return cli(db_url, "letters", "send", "--channel", "smtp", "--smtp-host", "127.0.0.1",
               "--smtp-port", str(port), "--smtp-from", "tmo@example.gov.cn",
               "--addresses", str(book), *extra)


def test_each_letter_arrives_once_by_mail_even_after_a_failure_and_a_retry(
        reminded: str, mailbox: tuple[Mailbox, int], tmp_path: Path) -> None:
    box, port = mailbox
    book = addresses(tmp_path, reminded)
    box.refuse = 5
    first = send_mail(reminded, port, book, "--retry-after", "0")
    assert first.exit_code == 0 and "已发送 26 份，待重试 5 份" in first.output
    second = send_mail(reminded, port, book, "--retry-after", "0")
    assert "已发送 5 份" in second.output
    assert "已发送 0 份" in send_mail(reminded, port, book).output
    ids = [m["Message-ID"] for m in box.received]
    assert len(ids) == 31 and len(set(ids)) == 31
    assert {m["To"] for m in box.received} == {f"{b}@example.gov.cn" for b in
                                               yaml.safe_load(book.read_text())}
    zhejiang = next(m for m in box.received if m["To"].startswith("zhejiang_amr@"))
    assert "2017年10月31日前" in zhejiang.get_payload(decode=True).decode("utf-8")
    assert statuses(reminded) == {"sent": 31}


def test_a_body_without_an_address_fails_for_good_and_says_who(
        reminded: str, mailbox: tuple[Mailbox, int], tmp_path: Path) -> None:
    _, port = mailbox
    book = tmp_path / "one.yaml"
    book.write_text("beijing_amr: bj@example.gov.cn\n", encoding="utf-8")
    result = send_mail(reminded, port, book)
    assert result.exit_code == 1 and "没有电子邮箱地址" in result.output
    assert statuses(reminded) == {"sent": 1, "failed": 30}


@dataclass
class DeadSender:
    """A sender that claimed every planned letter at ``now`` and died before sending any."""

    box: Mailbox
    store: Store
    channel: SmtpChannel
    now: datetime
    claimed: list[Outgoing]


@pytest.fixture
def dead_sender(reminded: str, mailbox: tuple[Mailbox, int], tmp_path: Path) -> DeadSender:
    box, port = mailbox
    store, channel, now = connect(reminded), smtp_channel(reminded, tmp_path, port), \
        datetime.now(UTC)
    return DeadSender(box, store, channel, now, _claim(store, channel, now, None, None))


def test_letters_a_dead_sender_claimed_but_never_sent_go_out_once_its_claim_is_stale(
        dead_sender: DeadSender) -> None:
    d = dead_sender
    box, store, channel, now = d.box, d.store, d.channel, d.now
    assert len(d.claimed) == 31
    soon = deliver(store, channel, now=now + timedelta(minutes=5))
    assert (soon.sent, soon.uncertain) == (0, 0)  # it may still be alive: not yet taken over
    later = deliver(store, channel, now=now + timedelta(hours=1))
    assert (later.sent, later.uncertain) == (31, 0) and len(box.received) == 31


def test_the_letter_a_sender_died_handing_over_is_reported_and_never_resent_blind(
        reminded: str, dead_sender: DeadSender) -> None:
    d = dead_sender
    box, store, channel, now, claimed = d.box, d.store, d.channel, d.now, d.claimed
    assert _hand_over(store, claimed[0].id)  # ...and the process dies in channel.send
    later = deliver(store, channel, now=now + timedelta(hours=1))
    assert (later.sent, later.uncertain) == (30, 1) and len(box.received) == 30
    assert statuses(reminded) == {"sent": 30, "sending": 1}
    assert resend(store, claimed[0].id, actor="值班员", reason="经核实未收到")
    deliver(store, channel, now=now + timedelta(hours=1))
    assert len(box.received) == 31
    with store.engine.connect() as conn:
        trail = conn.execute(select(events.c.actor, events.c.trigger).where(
            events.c.record_kind == "letter")).all()
    assert [tuple(t) for t in trail] == [("值班员", "resend")]


def test_a_letter_made_moot_after_a_dead_sender_claimed_it_is_not_sent(
        reminded: str, dead_sender: DeadSender) -> None:
    d = dead_sender
    box, store, channel, now = d.box, d.store, d.channel, d.now
    assert cli(reminded, "submit", "--campaign", "sourcing_2017", "--report",
               "cross_province_leads", "--body", "beijing_amr", "--count", "5", "--at",
               "2017-10-25", "--actor", "北京市局").exit_code == 0
    later = deliver(store, channel, now=now + timedelta(hours=1))
    assert later.sent == 30 and statuses(reminded) == {"sent": 30, "skipped": 1}
    assert "beijing_amr@example.gov.cn" not in {m["To"] for m in box.received}


def test_an_earlier_error_does_not_leave_a_file_letter_stuck_after_a_crash(
        reminded: str, tmp_path: Path) -> None:
    """A letter that once failed (a full disk), then was being written when its sender died,
    is taken again like any other: the outbox rewrites the same file."""
    store = connect(reminded)
    channel, now = FileChannel(tmp_path / "outbox"), datetime.now(UTC)
    first = _claim(store, channel, now, None, None)[0]
    with store.engine.begin() as conn:
        conn.execute(update(letters).where(letters.c.id == first.id).values(
            last_error="无法写入：磁盘已满"))
    assert _hand_over(store, first.id)  # ...and the process dies writing it
    later = deliver(store, channel, now=now + timedelta(hours=1))
    assert (later.sent, later.uncertain) == (31, 0) and statuses(reminded) == {"sent": 31}


def test_a_letter_its_sender_died_writing_is_taken_again_only_into_the_same_outbox(
        reminded: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It may lie whole in that folder already: rewriting it there is harmless, writing it
    into another outbox would have it sent on from both."""
    store, now = connect(reminded), datetime.now(UTC)
    outbox = FileChannel(tmp_path / "outbox")
    crashed = _claim(store, outbox, now, None, None)[0]
    assert _hand_over(store, crashed.id)  # ...and the process dies writing it
    elsewhere = deliver(store, FileChannel(tmp_path / "elsewhere"), now=now + timedelta(hours=1))
    assert (elsewhere.sent, elsewhere.uncertain) == (30, 1)
    assert statuses(reminded) == {"sent": 30, "sending": 1}
    monkeypatch.chdir(tmp_path)  # the same folder, named another way
    again = deliver(store, FileChannel(Path("outbox")), now=now + timedelta(hours=1))
    assert (again.sent, again.uncertain) == (1, 0) and statuses(reminded) == {"sent": 31}
    with store.engine.connect() as conn:
        where = conn.scalar(select(letters.c.outbox_path).where(letters.c.id == crashed.id))
    assert Path(where).resolve().is_relative_to((tmp_path / "outbox").resolve())


class ByeRefused(Mailbox):
    """Takes each message (250), then answers QUIT with a temporary error."""

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        return "451 4.3.0 closing anyway"


def test_a_message_the_server_confirmed_is_sent_whatever_it_answers_to_quit(
        reminded: str, tmp_path: Path) -> None:
    box, store, now = ByeRefused(), connect(reminded), datetime.now(UTC)
    with serving(box) as port:
        channel = smtp_channel(reminded, tmp_path, port)
        first = deliver(store, channel, now=now)
        again = deliver(store, channel, now=now + timedelta(hours=2))
    assert (first.sent, first.retrying, again.sent) == (31, 0, 0) and len(box.received) == 31


class RefusedThenByeRefused(Mailbox):
    """Refuses each message with ``data``'s answer, then answers QUIT with ``bye``'s."""

    def __init__(self, data: str, bye: str) -> None:
        super().__init__()
        self.data, self.bye = data, bye

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.data

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        return self.bye


@pytest.mark.parametrize(("data", "bye", "failed", "retrying"), [
    ("554 5.7.1 message refused", "421 4.3.0 closing", 31, 0),
    ("451 4.3.0 try again later", "554 5.3.0 closing", 0, 31),
], ids=["refused_for_good_then_bye_refused_for_now", "refused_for_now_then_bye_refused"])
def test_the_answer_to_the_message_decides_not_the_answer_to_quit(
        reminded: str, tmp_path: Path, data: str, bye: str, failed: int, retrying: int) -> None:
    """A permanent refusal stays permanent although the goodbye was refused for now, and a
    temporary one is retried although the goodbye was refused for good."""
    store = connect(reminded)
    with serving(RefusedThenByeRefused(data, bye)) as port:
        result = deliver(store, smtp_channel(reminded, tmp_path, port))
    assert (result.failed, result.retrying) == (failed, retrying)
    assert all(data[:3] in error for error in result.errors)


def test_a_mail_in_doubt_is_not_taken_over_by_the_outbox(
        reminded: str, dead_sender: DeadSender, tmp_path: Path) -> None:
    """Writing the file does not tell whether the mail went out: it stays in doubt."""
    d = dead_sender
    assert _hand_over(d.store, d.claimed[0].id)  # ...and the mail sender dies in send
    later = deliver(d.store, FileChannel(tmp_path / "outbox"), now=d.now + timedelta(hours=1))
    assert (later.sent, later.uncertain) == (30, 1)
    assert statuses(reminded) == {"sent": 30, "sending": 1}


def test_an_interrupted_send_gives_back_the_letters_it_had_not_handed_over(
        reminded: str, tmp_path: Path) -> None:
    store = connect(reminded)

    def stop_after_three(done: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        deliver(store, FileChannel(tmp_path / "outbox"), progress=stop_after_three)
    assert statuses(reminded) == {"sent": 3, "planned": 28}
    assert deliver(store, FileChannel(tmp_path / "outbox")).sent == 28


class SlowToConfirm(Mailbox):
    """Keeps each message, but confirms the first only long after the sender stopped waiting
    (the server's stop cancels the wait)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(email.message_from_bytes(envelope.content))
        if len(self.received) == 1:
            await asyncio.sleep(60)
        return "250 OK queued"


def test_a_message_the_server_took_but_did_not_confirm_is_not_mailed_twice(
        reminded: str, tmp_path: Path) -> None:
    """The sender waits 3 s for each answer: long enough that no other step of the other 30
    letters times out on a busy machine (at 0.5 s, one greeting once did, in a full run)."""
    box, store, now = SlowToConfirm(), connect(reminded), datetime.now(UTC)
    with serving(box) as port:
        channel = smtp_channel(reminded, tmp_path, port, timeout=3)
        first = deliver(store, channel, now=now)
        again = deliver(store, channel, now=now + timedelta(hours=2))
    assert (first.sent, first.uncertain) == (30, 1), first.errors
    assert any("未收到其确认" in e and "resend" in e for e in first.errors)
    assert (again.sent, again.uncertain) == (0, 1)
    ids = [m["Message-ID"] for m in box.received]
    assert len(ids) == 31 == len(set(ids))  # each letter once, the slow one included


def test_the_mail_password_comes_from_the_environment_and_is_never_shown(
        reminded: str, mailbox: tuple[Mailbox, int], tmp_path: Path) -> None:
    _, port = mailbox
    os.environ["CAMPAIGN_SMTP_PASSWORD"] = "s3cret-pw"
    try:
        result = send_mail(reminded, port, addresses(tmp_path, reminded), "--smtp-user", "tmo")
    finally:
        del os.environ["CAMPAIGN_SMTP_PASSWORD"]
    assert "s3cret-pw" not in result.output


def test_the_daily_run_can_deliver_into_the_outbox_as_it_goes(db_url: str,
                                                             tmp_path: Path) -> None:
    assert cli(db_url, "load", str(CAMPAIGNS / "sourcing_2017.yaml")).exit_code == 0
    outbox = tmp_path / "outbox"
    result = cli(db_url, "run", "--at", "2017-10-24", "--outbox", str(outbox),
                 "--formats", "md,docx")
    assert result.exit_code == 0 and "已投递 31 份" in result.output
    day = outbox / "sourcing_2017" / "2017-10-24"
    assert len(list(day.glob("*.md"))) == 31 and len(list(day.glob("*.docx"))) == 31
    again = cli(db_url, "run", "--at", "2017-10-24", "--outbox", str(outbox))
    assert "已投递 0 份" in again.output


def test_the_daemon_tick_delivers_when_given_an_outbox(reminded: str, tmp_path: Path) -> None:
    from engine.runtime import daemon

    outbox = tmp_path / "outbox"
    store = connect(reminded)
    daemon._process = daemon._Process(store, UTC, FileChannel(outbox))
    try:
        daemon._deliver(daemon._process)
    finally:
        daemon._process = None
    assert statuses(reminded) == {"sent": 31}
    assert len(list(outbox.rglob("*.md"))) == 31


def test_a_letter_whose_obligation_was_met_before_sending_is_never_sent(reminded: str,
                                                                       tmp_path: Path) -> None:
    ok = cli(reminded, "submit", "--campaign", "sourcing_2017", "--report",
             "cross_province_leads", "--body", "beijing_amr", "--count", "5", "--at",
             "2017-10-25", "--actor", "北京市局")
    assert ok.exit_code == 0
    result = cli(reminded, "letters", "send", "--outbox", str(tmp_path / "outbox"))
    assert "已发送 30 份" in result.output
    assert statuses(reminded) == {"sent": 30, "skipped": 1}
    assert not any("北京" in p.name for p in (tmp_path / "outbox").rglob("*.md"))
