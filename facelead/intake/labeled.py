"""A labeled set for evaluation: images with their identity and group values, read from a
CSV or an ``<identity>/<image>`` folder with enrollment's path rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facelead.intake.inputs import (
    IMAGE_SUFFIXES,
    ImageRef,
    InputError,
    RefusedInput,
    csv_rows,
    image_in_roots,
    scan_folder,
)

MAX_IMAGES = 20_000  # every pair is scored: 20,000 images are 200 million pairs


@dataclass(frozen=True)
class LabeledSet:
    """Images with their identity, and per image the value of each group column."""

    source: str
    refs: list[ImageRef]
    groups: dict[str, dict[str, str]]  # image path -> {group column: value}
    problems: list[RefusedInput]


def read_labeled_set(source: Path, group_columns: list[str], roots: tuple[Path, ...]) -> LabeledSet:
    """A CSV (path or image_path; identity or subject_id; the group columns) or an
    ``<identity>/<image>`` folder. Relative paths are read from the CSV's folder; images
    outside it and ``roots`` are refused, as in enrollment."""
    if source.is_dir():
        if group_columns:
            raise InputError(f"{source}: group columns need a CSV that has them")
        refs, problems = scan_folder(source, source.name)
        return LabeledSet(str(source), refs, {}, problems)
    columns, rows = csv_rows(source)
    image = next((c for c in ("path", "image_path") if c in columns), None)
    identity = next((c for c in ("identity", "subject_id") if c in columns), None)
    missing = [c for c in group_columns if c not in columns]
    if image is None or identity is None or missing:
        raise InputError(f"{source}: needs columns path and identity"
                         + (f" and the group column(s) {', '.join(missing)}" if missing else "")
                         + f"; it has {', '.join(columns)}")
    refs, groups, problems = [], {}, []
    for line, row in rows:
        path, who = row.get(image, "").strip(), row.get(identity, "").strip()
        if not path or not who or Path(path).suffix.lower() not in IMAGE_SUFFIXES:
            problems.append(RefusedInput(path or f"{source} line {line}", who or None, "", "bad_manifest_row",
                                    f"{source} line {line}: needs an image path and an identity"))
            continue
        target = image_in_roots(source, path, who, f"{source} line {line}", roots)
        if isinstance(target, RefusedInput):
            problems.append(target)
            continue
        refs.append(ImageRef(str(target), who, source.stem))
        groups[str(target)] = {c: row.get(c, "").strip() or "unknown" for c in group_columns}
    if len(refs) > MAX_IMAGES:
        raise InputError(f"{source}: {len(refs)} images; evaluation scores every pair, at most {MAX_IMAGES} images")
    return LabeledSet(str(source), refs, groups, problems)
