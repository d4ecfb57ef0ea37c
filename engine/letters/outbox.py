"""Where letter files go: ``outbox/<campaign>/<date>/<id>-<kind>-<recipient>.<ext>``.

Every part of the name that comes from data (a campaign id, a body's name) is reduced to a
safe file-name component, and the final path is checked to lie inside the outbox after
resolving links, so a body called ``../../x`` or a symlinked folder cannot steer a letter
anywhere else. Files are written atomically (a temporary file, then a rename), so a crash
leaves either the whole letter or nothing, and writing the same letter again is harmless.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from datetime import date
from pathlib import Path

KIND_WORDS = {"reminder": "提醒函", "overdue": "催报通知", "escalation": "督办函",
              "supervision": "督办函", "phase_start": "部署通知", "forwarding": "转办函"}

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


class OutboxError(Exception):
    """A letter that cannot be written inside the outbox; the message says why (Chinese)."""


def safe_component(text: str, limit: int = 60) -> str:
    """``text`` as one harmless file-name component: no separators, no control characters,
    no leading dots (no ``..``, no hidden files), at most ``limit`` characters."""
    clean = _UNSAFE.sub("_", unicodedata.normalize("NFKC", text))
    clean = re.sub(r"\.{2,}", "_", clean)
    clean = clean.strip().lstrip(".").strip()
    clean = re.sub(r"_+", "_", clean)[:limit].rstrip(". ")
    return clean or "_"


def letter_path(root: Path, campaign: str, day: date, letter_id: int, kind: str,
                recipient: str, ext: str) -> Path:
    """The file a letter is written to, guaranteed inside ``root``."""
    name = f"{letter_id:06d}-{KIND_WORDS.get(kind, safe_component(kind))}-" \
           f"{safe_component(recipient)}.{safe_component(ext, 8)}"
    path = root / safe_component(campaign) / day.isoformat() / name
    inside(root, path)
    return path


def inside(root: Path, path: Path) -> None:
    """Refuse a path that, links resolved, is not under ``root``."""
    base = root.resolve()
    if not path.resolve().is_relative_to(base):
        raise OutboxError(f"文书路径 {path} 不在发件目录 {root} 之内，拒绝写入")


def write_atomic(root: Path, path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (inside ``root``) all at once."""
    inside(root, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    inside(root, path)  # the folders just made could not have been links, but check again
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
