"""Build ScaNN index shards and search them; the flow wires these to Dask."""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray
from prefect import task
from prefect.cache_policies import NONE

from facelead.cluster import cluster_client
from facelead.digest import file_sha256
from facelead.refusal import Refusal
from facelead.settings import DaskSettings, IndexSettings
from facelead.steps.gallery import read_build_plan
from models.ann import ChanceFloor, Judged, ScannParams, Targets, build_tuned, floor_of, load_scann, save_scann
from models.calibration import ImpostorSample
from models.index import BuildPlan, ExactIndex, GalleryVectors, Ranked, RankMethod, top_exact
from models.store import PreparedModel
from tasks.persist import DB_TASK, load_gallery
from tasks.search import search_exact
from warehouse.records import IndexBuildRecord, StoredBuild


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


class IndexBuildError(Refusal, RuntimeError):
    """The gallery cannot be indexed (too few faces, an unwritable folder); the serving index is unchanged."""


MIN_SHARD_FACES = 16  # ScaNN's asymmetric hashing trains 16 centres per block


def plan_shards(gallery: str, model_id: str, faces: int, subjects: int, shards: int) -> list[range]:
    """Each shard's gallery rows; IndexBuildError where the gallery cannot be indexed: one
    subject (an index is judged against faces of different subjects), or under
    MIN_SHARD_FACES faces a shard."""
    if subjects < 2:
        raise IndexBuildError("one_subject", f"gallery {gallery!r} holds one subject's faces: an index is judged "
                              "against faces of different subjects")
    parts = shard_rows(faces, shards)
    if len(parts[-1]) < MIN_SHARD_FACES:
        raise IndexBuildError("too_few_faces", f"gallery {gallery!r} has {faces} faces for {model_id}: under "
                              f"{MIN_SHARD_FACES} a shard, too few to index")
    return parts


def shard_rows(count: int, shards: int) -> list[range]:
    """Gallery row numbers of each shard: contiguous, sizes differ by at most one."""
    parts = max(1, min(shards, count))
    size, extra = divmod(count, parts)
    starts = [shard * size + min(shard, extra) for shard in range(parts + 1)]
    return [range(start, stop) for start, stop in zip(starts, starts[1:])]


def folder_hashes(folder: Path) -> dict[str, str]:
    """{path relative to ``folder``: SHA-256} of every file under it."""
    return {str(p.relative_to(folder)): file_sha256(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@task(cache_policy=NONE)
def candidate_floor(impostors: ImpostorSample, gallery_size: int, settings: IndexSettings) -> ChanceFloor:
    """The floor a build is judged by: the setting, else the gallery's own chance floor."""
    if settings.candidate_floor is not None:
        return ChanceFloor(settings.candidate_floor, 0, gallery_size)
    return floor_of(impostors, gallery_size)


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
    write_members(folder, pa.array(gallery.face_ids, pa.string()), pa.array(gallery.subject_ids, pa.string()))


def write_members(folder: Path, face_ids: pa.Array, subject_ids: pa.Array) -> None:
    """Each row's face and subject id as the build's members file (Arrow IPC, memory-mappable)."""
    members = pa.table({"face_id": face_ids, "subject_id": subject_ids})
    with pa.OSFile(str(folder / MEMBERS), "wb") as sink, pa.ipc.new_file(sink, members.schema) as writer:
        writer.write_table(members)


def build_rows(folder: Path, vectors: int, shards: int) -> list[BuildRows]:
    """Each shard's rows (``shard_rows``) in the rows files of ``folder``."""
    return [BuildRows(folder, rows.start, rows.stop) for rows in shard_rows(vectors, shards)]


def has_rows(build: StoredBuild) -> bool:
    """Whether the build kept its rows and members (builds made before they were kept did not:
    those galleries are searched exactly until rebuilt)."""
    return {VECTORS, MEMBERS} <= build.file_hashes.keys()


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
    """``folder``, once each of the ``expected`` (name, SHA-256) files is found to match."""
    for name, digest in expected:
        if not (folder / name).is_file() or file_sha256(folder / name) != digest:
            raise ValueError(f"index file {folder / name} does not match the hash recorded at build time")
    return folder


def shard_hits(folder: Path, shard: int, size: int, params: dict, hashes: dict[str, str],
               probe: NDArray[np.float32], k: int) -> ShardHits:
    """Top-k rows of one shard; the shard is hash-checked and loaded once per process."""
    _verified(folder, tuple(sorted(hashes.items())))
    scores, rows = load_scann(folder, size, params).search(probe[None, :], k)
    return ShardHits(shard, scores[0], rows[0])


def shard_search_args(folder: Path, build: StoredBuild, probe: NDArray[np.float32], k: int) -> list[tuple]:
    """``shard_hits``'s arguments for each shard of ``build``."""
    hashes, params = build.file_hashes, build.params

    def args(shard: int, rows: range) -> tuple:
        prefix = f"shard-{shard:03d}/"
        shard_hashes = {name[len(prefix):]: h for name, h in hashes.items() if name.startswith(prefix)}
        return folder / prefix, shard, len(rows), params[shard], shard_hashes, probe, k

    return [args(shard, rows) for shard, rows in enumerate(shard_rows(build.vectors, build.shards))]


def local_hits(folder: Path, build: StoredBuild, probe: NDArray[np.float32], k: int) -> list[ShardHits]:
    """Each shard's top k, searched in this process: exactly over the build's memory-mapped
    rows when its index missed its targets (the rows file hash-checked once per process),
    else through each shard's index."""
    if not build.exact_fallback:
        return [shard_hits(*args) for args in shard_search_args(folder, build, probe, k)]
    _verified(folder, ((VECTORS, build.file_hashes[VECTORS]),))
    hits = []
    for shard, part in enumerate(build_rows(folder, build.vectors, build.shards)):
        scores, found = ExactIndex(part.vectors()).search(probe[None, :], k)
        hits.append(ShardHits(shard, scores[0], found[0]))
    return hits


def cluster_hits(cluster: DaskSettings, folder: Path, build: StoredBuild, probe: NDArray[np.float32],
                 k: int) -> list[ShardHits]:
    """Each shard's top k, searched on the Dask cluster through this process's long-lived
    client. Shard n goes to worker n mod the workers (in address order), so each worker
    loads and keeps only its share of the shards; another takes it when that one is gone."""
    client = cluster_client(cluster)
    workers = sorted(client.scheduler_info()["workers"])
    return client.gather([client.submit(shard_hits, *args, pure=False, allow_other_workers=True,
                                        workers=[workers[shard % len(workers)]] if workers else None)
                          for shard, args in enumerate(shard_search_args(folder, build, probe, k))])


def fans_out(build: StoredBuild, cluster: DaskSettings) -> bool:
    """Whether a search of ``build`` sends its shards to the Dask cluster: an index of
    several shards, with a cluster to send them to (``facelead serve`` starts one). One
    shard, rows searched exactly, or no cluster: the search's own process ranks them."""
    return build.shards > 1 and not build.exact_fallback and bool(cluster.address)


@functools.cache
def _members(folder: Path, digest: str) -> pa.Table:
    _verified(folder, ((MEMBERS, digest),))
    return pa.ipc.open_file(pa.memory_map(str(folder / MEMBERS))).read_all()


def hit_members(folder: Path, build: StoredBuild, hits: list[ShardHits]) -> dict[tuple[int, int], tuple[str, str]]:
    """{(shard, row): (face id, subject id)} of the hits, from the build's members file
    (hash-checked and memory-mapped once per process)."""
    members = _members(folder, build.file_hashes[MEMBERS])
    starts = [rows.start for rows in build_rows(folder, build.vectors, build.shards)]
    keys = [(h.shard, int(row)) for h in hits for row in h.rows]
    picked = members.take(pa.array([starts[shard] + row for shard, row in keys], pa.int64()))
    return dict(zip(keys, zip(picked["face_id"].to_pylist(), picked["subject_id"].to_pylist())))


def rank_build_hits(folder: Path, build: StoredBuild, plan: BuildPlan, hits: list[ShardHits], probe: NDArray[np.float32],
                    k: int) -> list[Ranked]:
    """The k best of a build's hits (named from its members file, less removed rows) and of
    the faces enrolled since it (ranked exactly)."""
    return merge_hits(hits, hit_members(folder, build, hits), plan.removed, top_exact(plan.delta, probe, k), k)


def merge_hits(shard_hits: list[ShardHits], members: dict[tuple[int, int], tuple[str, str]],
               removed: set[tuple[int, int]], delta: list[Ranked], k: int) -> list[Ranked]:
    """The k best of the shards' hits (minus removed rows) and the exact delta, re-ranked."""
    pooled = [(float(score), *members[(h.shard, int(row))])
              for h in shard_hits for score, row in zip(h.scores, h.rows)
              if (h.shard, int(row)) not in removed and (h.shard, int(row)) in members]
    pooled += [(r.score, r.face_id, r.subject_id) for r in delta]
    pooled.sort(key=lambda hit: (-hit[0], hit[1]))
    return [Ranked(rank, score, face, subject) for rank, (score, face, subject) in enumerate(pooled[:k], start=1)]


@task(**DB_TASK)
def rank_through_build(db_path: Path, gallery_id: str, model_id: str, build: StoredBuild, probe: NDArray[np.float32],
                       k: int, as_of: datetime, cluster: DaskSettings) -> tuple[list[Ranked], int]:
    """A search through ``build``, in one task run: the k best of its hits (its shards on
    the cluster when it ``fans_out``, else here) and of the faces enrolled after it up to
    ``as_of``; and how many of those there were."""
    plan = read_build_plan(db_path, gallery_id, model_id, build, as_of)
    folder, wanted = db_path.parent / build.folder, k + len(plan.removed)
    hits = (cluster_hits(cluster, folder, build, probe, wanted) if fans_out(build, cluster)
            else local_hits(folder, build, probe, wanted))
    return rank_build_hits(folder, build, plan, hits, probe, k), len(plan.delta)


def rank_gallery(db_path: Path, cluster: DaskSettings, gallery: str, model_id: str, vector: NDArray[np.float32],
                 k: int, build: StoredBuild | None, as_of: datetime) -> tuple[list[Ranked], RankMethod]:
    """The top k of the gallery's faces enrolled up to ``as_of``: exactly from the warehouse
    when ``build`` is None or kept no rows, else through the build (its index, or its rows
    exactly when the index missed its targets) plus the faces enrolled after it. Returns the
    ranking and how it was made."""
    started = time.perf_counter()
    if build is None or not has_rows(build):
        ranked = search_exact(load_gallery(db_path, gallery, model_id, as_of), vector, k)
        return ranked, RankMethod("exact", 1000 * (time.perf_counter() - started))
    ranked, delta_size = rank_through_build(db_path, gallery, model_id, build, vector, k, as_of, cluster)
    return ranked, RankMethod("exact" if build.exact_fallback else "scann", 1000 * (time.perf_counter() - started),
                              delta_size, build.build_id, build.params)


def build_record(build_id: str, gallery_id: str, recogniser: PreparedModel, folder: Path, vectors: int,
                 params: list[ScannParams], judged: Judged, floor: float, exact_fallback: bool,
                 file_hashes: dict[str, str], seconds: float, actor: str, snapshot_at: datetime) -> IndexBuildRecord:
    """The warehouse's record of a finished build; ``folder`` relative to the database's folder."""
    return IndexBuildRecord(
        build_id=build_id, gallery_id=gallery_id, model_id=recogniser.model_id, model_sha256=recogniser.sha256,
        folder=str(folder), shards=len(params), vectors=vectors, recall=judged.recall_at_k, candidate_floor=floor,
        floor_recall=judged.floor_recall, rank1_agreement=judged.rank1_agreement, exact_fallback=exact_fallback,
        params=json.dumps([p.as_dict() for p in params]), file_hashes=json.dumps(file_hashes, sort_keys=True),
        build_seconds=seconds, actor=actor, snapshot_at=snapshot_at, built_at=datetime.now(timezone.utc))


def partial_folder(index_dir: Path, build_id: str) -> Path:
    """The hidden folder build ``build_id`` is written into, under ``index_dir``; what
    interrupted builds left there is removed. IndexBuildError if nothing can be written."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        Path(tempfile.mkdtemp(dir=index_dir, prefix=".write-check-")).rmdir()
    except OSError as exc:
        raise IndexBuildError("index_folder_unwritable", f"{index_dir}: cannot write a new index build here "
                              f"({exc.strerror or exc}); the serving index is unchanged") from exc
    for stale in index_dir.glob(".*.partial"):
        shutil.rmtree(stale, ignore_errors=True)
    return index_dir / f".{build_id}.partial"


def publish_folder(partial: Path) -> Path:
    """Rename a complete build's hidden folder into place (one atomic rename); the new path."""
    final = partial.parent / partial.name.removeprefix(".").removesuffix(".partial")
    os.replace(partial, final)
    return final
