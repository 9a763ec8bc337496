"""A sharded build of a large realistic gallery on Dask, and searches fanned out over its shards.

    .venv/bin/python bench/sharded.py [--faces 10000000] [--shards 10] [--cluster local|cli] [--searches 50]

The gallery (models/synthetic.py: one to five photos a person at SFace-like genuine scores)
is written once as a build's rows files under ``--folder`` and reused. Its shards are built
by the build flow's own task (``build_shard``: tuned to the candidate floor and first-
candidate targets) on a cluster of two single-thread workers:

- ``local``: a ``distributed.LocalCluster`` in this process, as ``facelead serve`` starts;
- ``cli``: a ``dask scheduler`` and two ``dask worker`` processes started from the shell
  commands an operator would use (``--preload flows.worker_setup``).

facelead reaches either through ``FACELEAD_DASK__ADDRESS``. Each search is what a search
flow does with a sharded build: every shard's top k on the workers through the process's
long-lived client (``cluster_hits``), then the hits named from the members file and merged. Its answers are held against exact
search over the memory-mapped rows. One table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from distributed import Client, LocalCluster
from prefect import flow

from facelead.settings import Settings
from flows.runtime import dask_task_runner, share_prefect_api
from models.ann import Targets, chance_floor, poor_captures, weakest
from models.index import BuildPlan, ExactIndex, GalleryVectors
from models.synthetic import realistic_gallery
from tasks.index import (
    MEMBERS,
    SUBJECTS,
    VECTORS,
    build_rows,
    build_shard,
    cluster_hits,
    folder_hashes,
    index_params,
    rank_build_hits,
    write_members,
)
from warehouse.records import StoredBuild

ROOT = Path(__file__).resolve().parents[1]
K, CHUNK = 20, 1_000_000


def make_rows(folder: Path, faces: int) -> None:
    """``faces`` realistic faces as a build's rows files, a million at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    vectors = np.lib.format.open_memmap(folder / VECTORS, "w+", np.float32, (faces, 128))
    subjects = np.lib.format.open_memmap(folder / SUBJECTS, "w+", np.int64, (faces,))
    first_subject = 0
    for start in range(0, faces, CHUNK):
        part = realistic_gallery(min(CHUNK, faces - start), seed=start)
        vectors[start:start + len(part.vectors)] = part.vectors
        subjects[start:start + len(part.vectors)] = part.subjects + first_subject
        first_subject = int(subjects[start + len(part.vectors) - 1]) + 1
        print(f"  rows {start + len(part.vectors):>11,} of {faces:,}", flush=True)
    vectors.flush()
    subjects.flush()
    write_members(folder, pc.cast(pa.array(np.arange(faces)), pa.string()),
                  pc.cast(pa.array(np.asarray(subjects)), pa.string()))


@contextmanager
def cluster(kind: str, scratch: Path):
    """The scheduler address of two single-thread workers, started as ``kind`` says."""
    if kind == "local":
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address="127.0.0.1:0", local_directory=str(scratch),
                          preload=["flows.worker_setup"], silence_logs=40) as local:
            yield local.scheduler_address
        return
    dask = str(Path(sys.executable).with_name("dask"))
    scheduler_file = scratch / "scheduler.json"
    processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
                                   "127.0.0.1:0", "--scheduler-file", str(scheduler_file)],
                                  stderr=subprocess.DEVNULL)]
    try:
        while not scheduler_file.is_file():
            time.sleep(0.2)
        processes += [subprocess.Popen([dask, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1",
                                        "--local-directory", str(scratch), "--preload", "flows.worker_setup"],
                                       stderr=subprocess.DEVNULL) for _ in range(2)]
        address = json.loads(scheduler_file.read_text())["address"]
        with Client(address) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(30)


@flow(name="bench-sharded-build")
def build_shards(folder: Path, faces: int, shards: int, floor: float) -> tuple[list[dict], list]:
    """The build flow's shard builds, on the flow's task runner."""
    settings = Settings()
    parts = build_rows(folder, faces, shards)
    futures = [build_shard.submit(rows, index_params(rows.stop - rows.start, settings.index), 50,
                                  folder / f"shard-{i:03d}", 1, Targets(), floor) for i, rows in enumerate(parts)]
    tuned = [future.result() for future in futures]
    return [params.as_dict() for params, _ in tuned], [judged for _, judged in tuned]


def search_once(folder: Path, build: StoredBuild, probe: np.ndarray) -> tuple[list, float]:
    """One search as the search flow ranks a sharded build: (ranked, seconds)."""
    started = time.perf_counter()
    hits = cluster_hits(Settings().dask, folder, build, probe, K)
    nothing_since = BuildPlan(set(), GalleryVectors([], [], np.empty((0, probe.shape[0]), np.float32)))
    ranked = rank_build_hits(folder, build, nothing_since, hits, probe, K)
    return ranked, time.perf_counter() - started


def worker_peaks(address: str) -> list[int]:
    """Each worker's peak resident memory, bytes."""
    with Client(address) as client:
        return sorted(client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=10_000_000, help="realistic faces (default: %(default)s)")
    parser.add_argument("--shards", type=int, default=10, help="index shards (default: %(default)s)")
    parser.add_argument("--cluster", choices=["local", "cli"], default="local", help="how the two workers start")
    parser.add_argument("--searches", type=int, default=50, help="probes searched (default: %(default)s)")
    parser.add_argument("--folder", type=Path, default=ROOT / "data" / "bench-sharded",
                        help="where the gallery's rows are made once and reused (default: %(default)s)")
    args = parser.parse_args()
    rows_folder = args.folder / f"{args.faces}"
    if not (rows_folder / MEMBERS).is_file():
        print(f"making {args.faces:,} realistic faces, once, in {rows_folder}", flush=True)
        make_rows(rows_folder, args.faces)
    vectors = np.load(rows_folder / VECTORS, mmap_mode="r")
    subjects = np.load(rows_folder / SUBJECTS, mmap_mode="r")
    sample = np.random.default_rng(0).choice(args.faces, min(args.faces, 200_000), replace=False)
    sample.sort()
    floor = chance_floor(np.asarray(vectors[sample]), np.asarray(subjects[sample]), args.faces).score
    share_prefect_api()
    with tempfile.TemporaryDirectory(prefix="facelead-sharded-") as scratch, cluster(args.cluster, Path(scratch)) as address:
        os.environ["FACELEAD_DASK__ADDRESS"] = address  # dask_task_runner() reads its settings from here
        build_folder = Path(scratch) / "build"
        build_folder.mkdir()
        for name in (VECTORS, SUBJECTS, MEMBERS):
            (build_folder / name).symlink_to((rows_folder / name).absolute())
        started = time.perf_counter()
        params, judged = build_shards.with_options(task_runner=dask_task_runner())(build_folder, args.faces, args.shards,
                                                                                   floor)
        build_s = time.perf_counter() - started
        build_peaks = worker_peaks(address)
        shard_bytes = [sum(p.stat().st_size for p in (build_folder / f"shard-{i:03d}").rglob("*") if p.is_file())
                       for i in range(args.shards)]
        build = StoredBuild("bench", build_folder.name, args.shards, args.faces, None, floor, None, None, False,
                            params, folder_hashes(build_folder),
                            build_s, None)
        rng = np.random.default_rng(1)
        rows = rng.choice(args.faces, args.searches, replace=False)
        probes = poor_captures(np.asarray(vectors[np.sort(rows)]), 0.5, rng)
        search_once(build_folder, build, probes[0])  # the workers load their shards once, as after a restart
        answers, waits = zip(*(search_once(build_folder, build, probe) for probe in probes))
        search_peaks = worker_peaks(address)
    exact_scores, exact_rows = ExactIndex(vectors).search(probes, K)
    above = [set(r[s >= floor].tolist()) for r, s in zip(exact_rows, exact_scores)]
    found = [{int(c.face_id) for c in answer} for answer in answers]
    above_found = sum(len(a & f) for a, f in zip(above, found))
    firsts = np.mean([int(answer[0].face_id) == int(r[0]) for answer, r in zip(answers, exact_rows)])
    weakest_shard = weakest(judged)
    per_face = sum(shard_bytes) / args.faces
    print(f"\n{args.faces:,} realistic faces in {args.shards} shards on two single-thread workers ({args.cluster} cluster)")
    for label, value in [
        ("sharded build, wall s", f"{build_s:.0f}"),
        ("weakest shard tuned: floor recall / rank-1 agreement / recall@50",
         f"{weakest_shard.floor_recall:.4f} / {weakest_shard.rank1_agreement:.4f} / {weakest_shard.recall_at_k:.3f}"),
        ("index bytes per face (raw float32: 512)", f"{per_face:.0f} ({per_face / 512:.2f}x)"),
        ("index per shard, MB", f"{statistics.median(shard_bytes) / 1e6:.0f}"),
        ("worker peak memory after build / after searches, GB",
         " ".join(f"{b / 1e9:.1f}" for b in build_peaks) + " / " + " ".join(f"{b / 1e9:.1f}" for b in search_peaks)),
        ("search fanned out over the shards, p50 / p95 ms",
         f"{1000 * statistics.median(waits):.0f} / {1000 * float(np.percentile(waits, 95)):.0f}"),
        (f"recall of the faces at or above the floor ({floor:.3f}) of poor probes",
         f"{above_found / max(1, sum(map(len, above))):.4f} ({above_found} of {sum(map(len, above))})"),
        ("first candidate the same as exact search's", f"{firsts:.3f}"),
    ]:
        print(f"{label:<72} {value}")
    shutil.rmtree(build_folder, ignore_errors=True)


if __name__ == "__main__":
    main()
