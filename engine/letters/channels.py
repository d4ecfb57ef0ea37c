"""Delivery channels: the outbox folder (default) and SMTP mail.

A channel takes one letter and either delivers it or raises :class:`DeliveryError`, saying
whether trying again could help. Channels know nothing of the database; the claim, retry and
status bookkeeping is :mod:`engine.letters.delivery`'s.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

from engine.letters.outbox import OutboxError, inside, letter_path, write_atomic

FORMATS = ("md", "html", "docx", "pdf")


def parse_formats(text: str) -> tuple[str, ...]:
    """``md,docx`` -> ("md", "docx"); an unknown or empty list is a ValueError."""
    wanted = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    if not wanted or any(f not in FORMATS for f in wanted):
        raise ValueError(f"文书格式只能是 {','.join(FORMATS)} 中的一种或几种：{text!r}")
    return wanted


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One letter as a channel sees it."""

    id: int
    key: str
    campaign: str
    kind: str
    recipient: str
    recipient_name: str
    day: date
    subject: str
    text: str


class DeliveryError(Exception):
    """A letter not delivered; ``retry`` says whether a later attempt may succeed, and
    ``unknown`` that it may have been delivered all the same (the server took the whole
    message and the answer never came): such a letter must not be sent again unasked."""

    def __init__(self, message: str, *, retry: bool, unknown: bool = False) -> None:
        super().__init__(message)
        self.retry = retry and not unknown
        self.unknown = unknown


class Channel(Protocol):
    name: str
    """Who is sending, as recorded on each letter it claims (at most 20 characters)."""
    idempotent: bool
    """Delivering twice does no harm (a file rewritten); a mail channel is not."""
    records_path: bool
    """What :meth:`send` returns is a path to keep (else a Message-ID)."""

    def send(self, letter: Outgoing) -> str:
        """Deliver; return where it went (a path, a Message-ID)."""
        ...


def file_channel_name(root: Path) -> str:
    """``file:`` and a digest of the outbox folder's real path.

    The name a file channel claims letters under: a letter left half-written by a crash is
    taken again only by a run writing to the same folder. Under one name for every folder, a
    run given another ``--outbox`` would write it there as well, and the letter would lie in
    two outboxes, to be sent on twice."""
    return "file:" + hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:15]


@dataclass
class FileChannel:
    """Letters written under the outbox, as Markdown and in any further formats asked for."""

    root: Path
    formats: tuple[str, ...] = ("md",)
    name: str = field(init=False)
    idempotent: bool = True
    records_path: bool = True

    def __post_init__(self) -> None:
        self.name = file_channel_name(self.root)

    def send(self, letter: Outgoing) -> str:
        first: Path | None = None
        for fmt in self.formats:
            try:
                path = letter_path(self.root, letter.campaign, letter.day, letter.id,
                                   letter.kind, letter.recipient_name, fmt)
                if fmt == "md":
                    write_atomic(self.root, path, letter.text.encode("utf-8"))
                else:
                    from engine.letters.formats import write_letter

                    path.parent.mkdir(parents=True, exist_ok=True)
                    inside(self.root, path)  # write_letter replaces the file atomically
                    write_letter(letter.text, fmt, path)  # type: ignore[arg-type]
            except (OutboxError, RuntimeError) as exc:  # outside the outbox; no PDF tools
                raise DeliveryError(str(exc), retry=False) from None
            except OSError as exc:  # a full disk, permissions: may clear up
                raise DeliveryError(f"无法写入发件目录：{exc}", retry=True) from None
            first = first or path
        return str(first)


def message_id(key: str, domain: str) -> str:
    """A Message-ID derived from the letter's idempotency key: stable across attempts, so a
    receiving server (or a person) can tell a retried copy from a new letter."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


@dataclass
class SmtpChannel:
    """Mail through an SMTP server; addresses by body id (a body with none cannot be mailed)."""

    host: str
    port: int
    sender: str
    addresses: Mapping[str, str]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 30.0
    name: str = "smtp"
    idempotent: bool = False
    records_path: bool = False

    def build(self, letter: Outgoing) -> EmailMessage:
        to = self.addresses.get(letter.recipient)
        if not to:
            raise DeliveryError(f"{letter.recipient_name}（{letter.recipient}）没有电子邮箱地址",
                                retry=False)
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = letter.subject
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = message_id(letter.key, self.sender.rpartition("@")[2] or "localhost")
        msg.set_content(letter.text, charset="utf-8")
        return msg

    def send(self, letter: Outgoing) -> str:
        msg = self.build(letter)
        smtp: _Watched | None = None
        try:
            smtp = _Watched(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            raise self._failure(exc, smtp is not None and smtp.message_sent) from None
        finally:  # the goodbye, whatever it answers, changes nothing about the message
            if smtp is not None:
                _say_goodbye(smtp)
        return str(msg["Message-ID"])

    def _failure(self, exc: Exception, message_sent: bool) -> DeliveryError:
        """What a failed attempt means: refused for good, worth retrying, or unknown."""
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in exc.recipients.values()]
            return DeliveryError(f"邮件服务器拒收收件人：{codes}",
                                 retry=any(code < 500 for code in codes))
        if isinstance(exc, smtplib.SMTPResponseException):  # a reply: nothing was accepted
            said = exc.smtp_error.decode("utf-8", "replace") \
                if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            return DeliveryError(f"邮件服务器拒绝：{exc.smtp_code} {said}",
                                 retry=not 500 <= exc.smtp_code < 600)
        if message_sent:
            return DeliveryError(
                f"邮件已全部发给服务器 {self.host}:{self.port}，但未收到其确认（{exc}），"
                "不知是否送达；请向收文单位核实，未收到的用 campaign letters resend 重发",
                retry=False, unknown=True)
        return DeliveryError(f"无法连接邮件服务器 {self.host}:{self.port}：{exc}", retry=True)


def _say_goodbye(smtp: smtplib.SMTP) -> None:
    """QUIT and close; a refused or failed goodbye is ignored (unlike ``with SMTP``, whose
    exit raises it in place of the message's own answer)."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


class _Watched(smtplib.SMTP):
    """An SMTP client that knows whether the message itself went out.

    A timeout or a dropped connection before the end of the message means it was not
    accepted and may be retried; after it, the server may well have queued it (a slow virus
    scan answers late) and a retry would deliver a second copy. ``data`` sends the message
    as one block ending in the lone-dot line, and nothing else does."""

    message_sent = False

    def send(self, s: bytes | str) -> None:
        super().send(s)
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.message_sent = True
