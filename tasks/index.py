"""Build ScaNN index shards and search them; the flow wires these to Dask."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray
from prefect import task
from prefect.cache_policies import NONE

from facelead.models.ann import (ChanceFloor, Judged, ScannParams, Targets, build_tuned, chance_floor, load_scann,
                                  save_scann)
from facelead.models.index import ExactIndex, GalleryVectors
from facelead.settings import IndexSettings
from facelead.tasks.search import Ranked, top_exact


@dataclass(frozen=True)
class ShardHits:
    """One shard's best rows for one probe, best first."""

    shard: int
    scores: NDArray[np.float32]
    rows: NDArray[np.int64]


def index_params(vectors: int, settings: IndexSettings) -> ScannParams:
    """Size-based defaults with any overrides from settings."""
    params = ScannParams.for_size(vectors, settings.rescore)
    overrides = {"leaves_to_search": settings.leaves_to_search, "reorder": settings.reorder}
    params = replace(params, **{k: v for k, v in overrides.items() if v is not None})
    return replace(params, leaves_to_search=min(params.leaves_to_search, params.leaves))


def shard_rows(count: int, shards: int) -> list[NDArray[np.int64]]:
    """Gallery row numbers of each shard: contiguous, sizes differ by at most one."""
    return [part.astype(np.int64) for part in np.array_split(np.arange(count), max(1, min(shards, count)))]


def folder_hashes(folder: Path) -> dict[str, str]:
    """{path relative to ``folder``: SHA-256} of every file under it."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def subject_codes(subject_ids: list[str]) -> NDArray[np.int64]:
    """One integer per subject, so that arrays, not lists of names, go to the workers."""
    return np.unique(np.asarray(subject_ids, dtype=object), return_inverse=True)[1].astype(np.int64)


@task(cache_policy=NONE)
def candidate_floor(vectors: NDArray[np.float32], subjects: NDArray[np.int64], settings: IndexSettings) -> ChanceFloor:
    """The floor a build is judged by: the setting, else the gallery's own chance floor."""
    if settings.candidate_floor is not None:
        return ChanceFloor(settings.candidate_floor, 0, len(vectors))
    return chance_floor(vectors, subjects, len(vectors))


# A build's gallery rows, shard after shard in gallery order: vectors, subject codes, and each
# row's face and subject id (an Arrow file, memory-mapped by searches to name their hits).
VECTORS, SUBJECTS, MEMBERS = "vectors.npy", "subjects.npy", "members.arrow"


@dataclass(frozen=True)
class BuildRows:
    """Rows ``start`` to ``stop`` of a build's rows files: a handle that tasks receive instead
    of the vectors (which Dask would otherwise copy into its task graph)."""

    folder: Path
    start: int
    stop: int

    def vectors(self) -> NDArray[np.float32]:
        """The rows, memory-mapped: read from the page cache, never copied whole."""
        return np.load(self.folder / VECTORS, mmap_mode="r")[self.start:self.stop]

    def subjects(self) -> NDArray[np.int64]:
        return np.load(self.folder / SUBJECTS, mmap_mode="r")[self.start:self.stop]


def write_rows(folder: Path, gallery: GalleryVectors, subjects: NDArray[np.int64]) -> None:
    """A build's gallery rows in ``folder``: contiguous float32 vectors, int64 subject codes,
    and the face and subject id of each row."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / VECTORS, np.ascontiguousarray(gallery.vectors, np.float32))
    np.save(folder / SUBJECTS, subjects.astype(np.int64))
    members = pa.table({"face_id": pa.array(gallery.face_ids, pa.string()),
                        "subject_id": pa.array(gallery.subject_ids, pa.string())})
    with pa.OSFile(str(folder / MEMBERS), "wb") as sink, pa.ipc.new_file(sink, members.schema) as writer:
        writer.write_table(members)


def build_rows(folder: Path, vectors: int, shards: int) -> list[BuildRows]:
    """Each shard's rows (``shard_rows``) in the rows files of ``folder``."""
    bounds = np.cumsum([0] + [len(rows) for rows in shard_rows(vectors, shards)])
    return [BuildRows(folder, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def has_rows(build: dict) -> bool:
    """Whether the build kept its rows and members (builds made before they were kept did not:
    those galleries are searched exactly until rebuilt)."""
    return {VECTORS, MEMBERS} <= json.loads(build["file_hashes"]).keys()


@task(cache_policy=NONE)
def build_shard(rows: BuildRows, params: ScannParams, k: int, folder: Path, threads: int, targets: Targets,
                floor: float) -> tuple[ScannParams, Judged]:
    """Build, tune and save one shard of ``rows`` in ``folder``; runs on a Dask worker.

    Returns the parameters tuned to ``targets`` and how its answers compared with exact search.
    """
    index, tuned, judged = build_tuned(np.ascontiguousarray(rows.vectors()), params, k, targets, floor,
                                       np.asarray(rows.subjects()), threads)
    save_scann(index, folder)
    return tuned, judged


@functools.cache
def _verified(folder: Path, expected: tuple[tuple[str, str], ...]) -> Path:
    actual = folder_hashes(folder)
    for name, digest in expected:
        if actual.get(name) != digest:
            raise ValueError(f"index file {folder / name} does not match the hash recorded at build time")
    return folder


@task(cache_policy=NONE)
def search_shard(folder: Path, shard: int, size: int, params: dict, hashes: dict[str, str],
                 probe: NDArray[np.float32], k: int) -> ShardHits:
    """Top-k rows of one shard; the shard is hash-checked and loaded once per process."""
    _verified(folder, tuple(sorted(hashes.items())))
    scores, rows = load_scann(folder, size, params).search(probe[None, :], k)
    return ShardHits(shard, scores[0], rows[0])


@task(cache_policy=NONE)
def search_rows_exactly(rows: list[BuildRows], vectors_sha256: str, probe: NDArray[np.float32],
                        k: int) -> list[ShardHits]:
    """Each shard's exact top-k over a build's memory-mapped rows (a build whose index missed
    its targets); the rows file is hash-checked once per process."""
    if rows:
        _verified(rows[0].folder, ((VECTORS, vectors_sha256),))
    hits = []
    for shard, part in enumerate(rows):
        scores, found = ExactIndex(part.vectors()).search(probe[None, :], k)
        hits.append(ShardHits(shard, scores[0], found[0]))
    return hits


@functools.cache
def _members(folder: Path, digest: str) -> pa.Table:
    _verified(folder, ((MEMBERS, digest),))
    return pa.ipc.open_file(pa.memory_map(str(folder / MEMBERS))).read_all()


def hit_members(folder: Path, build: dict, hits: list[ShardHits]) -> dict[tuple[int, int], tuple[str, str]]:
    """{(shard, row): (face id, subject id)} of the hits, from the build's members file
    (hash-checked and memory-mapped once per process)."""
    members = _members(folder, json.loads(build["file_hashes"])[MEMBERS])
    starts = [rows.start for rows in build_rows(folder, build["vectors"], build["shards"])]
    keys = [(h.shard, int(row)) for h in hits for row in h.rows]
    picked = members.take(pa.array([starts[shard] + row for shard, row in keys], pa.int64()))
    return dict(zip(keys, zip(picked["face_id"].to_pylist(), picked["subject_id"].to_pylist())))


@task(cache_policy=NONE)
def rank_build_hits(folder: Path, build: dict, hits: list[ShardHits], removed: set[tuple[int, int]],
                    delta: GalleryVectors, probe: NDArray[np.float32], k: int) -> list[Ranked]:
    """The k best of a build's hits (named from its members file, less ``removed`` rows) and
    of the faces enrolled since it (``delta``, ranked exactly)."""
    return merge_hits(hits, hit_members(folder, build, hits), removed, top_exact(delta, probe, k), k)


def merge_hits(shard_hits: list[ShardHits], members: dict[tuple[int, int], tuple[str, str]],
               removed: set[tuple[int, int]], delta: list[Ranked], k: int) -> list[Ranked]:
    """The k best of the shards' hits (minus removed rows) and the exact delta, re-ranked."""
    pooled = [(float(score), *members[(h.shard, int(row))])
              for h in shard_hits for score, row in zip(h.scores, h.rows)
              if (h.shard, int(row)) not in removed and (h.shard, int(row)) in members]
    pooled += [(r.score, r.face_id, r.subject_id) for r in delta]
    pooled.sort(key=lambda hit: (-hit[0], hit[1]))
    return [Ranked(rank, score, face, subject) for rank, (score, face, subject) in enumerate(pooled[:k], start=1)]

