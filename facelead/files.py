"""Files facelead writes: owner-only (keys, certificates, sessions, kept probes, sheets,
exports; the latter shared with the flow runs' account where ``serve`` shares their folder),
and CSV cells that no spreadsheet reads as a formula."""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import stat
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_AFTER_SEMICOLON = re.compile(r";(\s*)(?=[=+\-@])")  # where a spreadsheet that splits on ';' starts a cell


def shared_with_runs(folder: Path) -> bool:
    """Whether ``folder`` is one ``serve`` shares with the flow runs' account
    (``service.run_user``): setgid to that account's group, which may read and write it."""
    mode = folder.stat().st_mode
    return bool(mode & stat.S_ISGID) and mode & 0o070 == 0o070


def _nearest_folder(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def write_private(path: Path, data: bytes | str, exclusive: bool = False) -> Path:
    """Write ``data`` to ``path`` as a 0600 file in a folder made 0700 if missing (0660 and
    2770 within a folder shared with the flow runs' account); with ``exclusive``,
    FileExistsError if ``path`` exists already (a race lost)."""
    nearest = _nearest_folder(path.parent)
    shared = shared_with_runs(nearest)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if shared:  # whatever this process's umask
        for made in [path.parent, *path.parent.parents][:len(path.parent.parts) - len(nearest.parts)]:
            made.chmod(0o2770)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    if shared:
        os.fchmod(fd, 0o660)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    return path


def secrets_dir(database_path: Path) -> Path:
    """Where the service's keys live: ``secrets/`` beside the database file, owner-only."""
    return database_path.parent / "secrets"


class ForeignKeyFolder(RuntimeError):
    """A key's folder is not this account's own owner-only folder: put there by someone else."""


def _own_private_folder(folder: Path) -> None:
    """Raise ForeignKeyFolder unless ``folder`` belongs to this account and no one else may
    enter it (a lesser account that may write the data folder could swap in its own)."""
    facts = folder.stat()
    if facts.st_uid != os.geteuid() or facts.st_mode & 0o077:
        raise ForeignKeyFolder(f"{folder}: the keys' folder must be this account's own and owner-only "
                               f"(found uid {facts.st_uid}, mode {facts.st_mode & 0o777:o}); restore it from backup")


def secret_key(path: Path, create: bool, size: int = 32) -> bytes:
    """The random key in ``path``, made owner-only (in an owner-only folder) when missing and
    ``create``; FileNotFoundError when missing otherwise, PermissionError where this account
    may not read it, ForeignKeyFolder where its folder is not this account's own."""
    if create and not path.is_file():
        try:
            write_private(path, secrets.token_bytes(size), exclusive=True)
        except FileExistsError:  # another process made it meanwhile
            pass
    key = path.read_bytes()
    _own_private_folder(path.parent)
    return key


def spreadsheet_safe(value: Any) -> Any:
    """``value``, with a text cell that a spreadsheet would run as a formula (it starts with
    = + - @, a tab or a carriage return) prefixed by a single quote, as OWASP advises; so is
    each part after a ';', where a spreadsheet set to split on ';' starts a new cell."""
    if not isinstance(value, str):
        return value
    value = _AFTER_SEMICOLON.sub(r";\1'", value)
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


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
