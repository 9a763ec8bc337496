"""Enrollment input: a CSV manifest or a folder of ``<subject>/<image>`` files."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from facelead.digest import file_sha256

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"})
REQUIRED_COLUMNS = ("image_path", "subject_id")
OPTIONAL_COLUMNS = ("source", "acquired_at")


class InputError(ValueError):
    """The enrollment input as a whole is unusable (missing file, missing column)."""


@dataclass(frozen=True)
class ImageRef:
    """One gallery image to enroll: absolute path, who it shows, where and when it was taken."""

    path: str
    subject_id: str
    source: str
    acquired_at: datetime | None = None


@dataclass(frozen=True)
class RefusedInput:
    """An input that was not enrolled, with a short stable reason code and a detail."""

    path: str
    subject_id: str | None
    sha256: str
    reason: str
    detail: str


@dataclass(frozen=True)
class HashedRef:
    ref: ImageRef
    sha256: str


def parse_time(text: str) -> datetime | None:
    """ISO 8601 date or date-time; naive values are taken as UTC; blank is None."""
    if not text.strip():
        return None
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def inside_roots(path: Path, roots: tuple[Path, ...]) -> bool:
    """Whether ``path``, with every symlink and ``..`` resolved, lies under one of ``roots``
    (a path no file system can hold, with a NUL byte, lies nowhere)."""
    if "\x00" in str(path):
        return False
    real = path.resolve()
    return any(real.is_relative_to(root.resolve()) for root in roots)


def overlaps(path: Path, folders: tuple[Path, ...]) -> bool:
    """Whether ``path`` (links and ``..`` resolved) lies in one of ``folders`` or holds one."""
    return inside_roots(path, folders) or any(inside_roots(folder, (path,)) for folder in folders)


def outside_refusal(path: Path, subject: str | None, where: str, roots: tuple[Path, ...]) -> RefusedInput:
    return RefusedInput(str(path), subject, "", "outside_image_roots",
                   f"{where}: {path} resolves outside the image roots ({', '.join(str(r) for r in roots)}); "
                   "add its folder to FACELEAD_IMAGE_ROOTS if it belongs there")


def csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The columns and the (line number, row) pairs of a UTF-8 CSV file; a file that is
    missing, not UTF-8 or not CSV raises InputError naming it."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            rows = [(line, {k: v or "" for k, v in row.items() if isinstance(k, str)})
                    for line, row in enumerate(reader, start=2)]
            return list(reader.fieldnames or []), rows
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); save the CSV as UTF-8") from exc
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV ({exc})") from exc


def image_in_roots(listing: Path, image: str, subject: str | None, where: str,
                   roots: tuple[Path, ...]) -> Path | RefusedInput:
    """``image`` as named by a row of the CSV ``listing``, absolute; or its refusal when it
    resolves outside the listing's folder and ``roots``."""
    target, allowed = (listing.parent / image).absolute(), (listing.parent, *roots)
    return target if inside_roots(target, allowed) else outside_refusal(target, subject, where, allowed)


def read_manifest(path: Path, default_source: str, roots: tuple[Path, ...] = ()) -> tuple[list[ImageRef], list[RefusedInput]]:
    """Rows of a CSV manifest (image_path, subject_id[, source, acquired_at]).

    Relative image paths are taken from the manifest's folder. An image must resolve
    (``..`` and symlinks followed) inside the manifest's folder or one of ``roots``. A bad
    row is returned as a RefusedInput entry naming the row; a missing column or file raises
    InputError.
    """
    columns, rows = csv_rows(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InputError(f"{path}: manifest lacks column(s) {', '.join(missing)}; "
                         f"needs {', '.join(REQUIRED_COLUMNS)} and may have {', '.join(OPTIONAL_COLUMNS)}")
    refs, problems = [], []
    for line, row in rows:
        image = row.get("image_path", "").strip()
        subject = row.get("subject_id", "").strip()
        where = f"{path} line {line}"
        if not image or not subject:
            problems.append(RefusedInput(image or where, subject or None, "", "bad_manifest_row",
                                    f"{where}: image_path and subject_id are required"))
            continue
        try:
            acquired = parse_time(row.get("acquired_at", ""))
        except ValueError:
            problems.append(RefusedInput(image, subject, "", "bad_manifest_row",
                                    f"{where}: acquired_at {row.get('acquired_at')!r} is not an ISO 8601 date"))
            continue
        target = image_in_roots(path, image, subject, where, roots)
        if isinstance(target, RefusedInput):
            problems.append(target)
            continue
        refs.append(ImageRef(str(target), subject, row.get("source", "").strip() or default_source, acquired))
    return refs, problems


def manifest_attributes(source: str, names: list[str]) -> dict[str, dict[str, str]]:
    """Per subject, the values a CSV manifest gives in the ``names`` columns (a folder
    gives none); where rows of one subject differ, the last non-empty value counts."""
    path = Path(source)
    if path.suffix.lower() != ".csv" or not names:
        return {}
    columns, rows = csv_rows(path)
    kept = [name for name in names if name in columns]
    found: dict[str, dict[str, str]] = {}
    for _, row in rows:
        subject = row.get("subject_id", "").strip()
        values = {name: row[name].strip() for name in kept if row.get(name, "").strip()}
        if subject and values:
            found.setdefault(subject, {}).update(values)
    return found


def scan_folder(root: Path, source: str) -> tuple[list[ImageRef], list[RefusedInput]]:
    """Images under ``root/<subject>/``; image files directly in ``root``, and symlinks that
    lead out of ``root``, are refused."""
    if not root.is_dir():
        raise InputError(f"{root}: folder not found")
    refs, problems = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        relative = path.relative_to(root)
        if len(relative.parts) < 2:
            problems.append(RefusedInput(str(path.absolute()), None, "", "no_subject",
                                    f"{path}: put gallery images in a <subject>/ folder"))
            continue
        if not inside_roots(path, (root,)):
            problems.append(outside_refusal(path.absolute(), relative.parts[0], str(root), (root,)))
            continue
        refs.append(ImageRef(str(path.absolute()), relative.parts[0], source))
    return refs, problems


def hash_ref(ref: ImageRef) -> HashedRef | RefusedInput:
    """SHA-256 of the file's bytes, or a RefusedInput entry if it cannot be read."""
    try:
        digest = file_sha256(Path(ref.path))
    except OSError as exc:
        return RefusedInput(ref.path, ref.subject_id, "", "unreadable", f"{ref.path}: {exc.strerror or exc}")
    return HashedRef(ref, digest)


class ImageBatch:
    """Hashed images handed to a task as one value. Prefect walks lists and dataclasses in
    task parameters looking for futures, in the flow and again on the worker (about 0.06 s
    a batch of 150); it does not walk this."""

    __slots__ = ("items",)

    def __init__(self, items: list[HashedRef]) -> None:
        self.items = items


def split_new(hashed: list[HashedRef], known: set[str]) -> tuple[list[HashedRef], int]:
    """Entries whose content is neither known nor repeated earlier in the input; and how many were not."""
    seen, new = set(known), []
    for item in hashed:
        if item.sha256 not in seen:
            seen.add(item.sha256)
            new.append(item)
    return new, len(hashed) - len(new)


def read_source(source: str, source_name: str | None, roots: tuple[Path, ...],
                service_folders: tuple[Path, ...]) -> tuple[list[ImageRef], list[RefusedInput]]:
    """Image refs from a CSV manifest (images within its folder or ``roots``) or a
    ``<subject>/<image>`` folder, with per-row problems; an image that resolves into one of
    facelead's own ``service_folders`` (a probe, say) is refused, whatever its path or link."""
    path = Path(source)
    name = source_name or path.stem
    refs, problems = read_manifest(path, name, roots) if path.suffix.lower() == ".csv" else scan_folder(path, name)
    ours = [r for r in refs if inside_roots(Path(r.path), service_folders)]
    return [r for r in refs if r not in ours], problems + [
        RefusedInput(r.path, r.subject_id, "", "service_folder",
                     f"{r.path}: lies in facelead's own data folder (probes, sheets, exports); never enrolled")
        for r in ours]


def hash_inputs(refs: list[ImageRef]) -> tuple[list[HashedRef], list[RefusedInput]]:
    """Content hashes of every readable input; unreadable ones come back refused."""
    results = [hash_ref(r) for r in refs]
    return [r for r in results if isinstance(r, HashedRef)], [r for r in results if isinstance(r, RefusedInput)]
