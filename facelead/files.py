"""Files facelead writes: owner-only (keys, certificates, sessions, kept probes, sheets,
exports), and CSV cells that no spreadsheet reads as a formula."""

from __future__ import annotations

import csv
import io
import os
import secrets
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write_private(path: Path, data: bytes | str, exclusive: bool = False) -> Path:
    """Write ``data`` to ``path`` as a 0600 file in a folder made 0700 if missing; with
    ``exclusive``, FileExistsError if ``path`` exists already (a race lost)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    with os.fdopen(os.open(path, flags, 0o600), "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    return path


def secrets_dir(database_path: Path) -> Path:
    """Where the service's keys live: ``secrets/`` beside the database file, owner-only."""
    return database_path.parent / "secrets"


def secret_key(path: Path, create: bool, size: int = 32) -> bytes:
    """The random key in ``path``, made owner-only (in an owner-only folder) when missing and
    ``create``; FileNotFoundError when missing otherwise."""
    if create and not path.is_file():
        try:
            write_private(path, secrets.token_bytes(size), exclusive=True)
        except FileExistsError:  # another process made it meanwhile
            pass
    return path.read_bytes()


def spreadsheet_safe(value: Any) -> Any:
    """``value``, with a text cell that a spreadsheet would run as a formula (it starts with
    = + - @, a tab or a carriage return) prefixed by a single quote, as OWASP advises."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def write_csv(path: Path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Path:
    """``rows`` as an owner-only CSV with a header of ``columns``, every cell spreadsheet-safe."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)
    return write_private(path, buffer.getvalue())


def zipped(folder: Path) -> bytes:
    """Every file under ``folder`` in a zip archive, paths relative to its parent."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder.parent).as_posix())
    return buffer.getvalue()
