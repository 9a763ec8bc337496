"""Reading an enrollment's source, as a task of the enrollment flow."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from facelead.intake.inputs import ImageRef, RefusedInput, read_source


@task
def collect_inputs(source: str, source_name: str | None, roots: tuple[Path, ...],
                   service_folders: tuple[Path, ...]) -> tuple[list[ImageRef], list[RefusedInput]]:
    """``intake.inputs.read_source``: image refs from a CSV manifest or a folder, with per-row problems."""
    return read_source(source, source_name, roots, service_folders)
