"""Gallery search: exact, ScaNN and faiss peers on synthetic unit vectors, one table.

Data has the live recogniser's dimension. "identity" vectors model face embeddings:
10,000 identity centres drawn around 100 look-alike groups (real embeddings are not
uniform on the sphere: similar-looking people cluster), each image its identity plus
noise (genuine cosine about 0.7); probes are fresh images of gallery identities.
"random" vectors are uniform on the sphere, where no index does well. "realistic" vectors
are a gallery like a booking one (models/synthetic.py: one to five photos a person at
SFace-like genuine scores, so a probe's neighbours are mostly strangers at chance scores);
its probes are new photos (half good, about 0.8 against a gallery photo, half poor, about
0.5) of people in it, and every index there is judged as a facelead build is: the faces
at or above the gallery's chance floor found, and the first candidate the same as exact
search's. Recall@k is against faiss IndexFlatIP.

    .venv/bin/python bench/search.py [--sizes 100000 1000000] [--queries 1000] [--k 50]

faiss is a dev/bench dependency only. All rows are measured in the same run with the
same thread counts (onnxruntime is not involved).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from facelead.settings import Settings
from models.ann import ScannParams, Targets, build_tuned, chance_floor, poor_captures, recall_at, save_scann
from models.embed import l2_normalise
from models.index import ExactIndex
from models.manifest import load_manifest
from models.synthetic import realistic_gallery

GROUPS, IDENTITIES = 100, 10_000
SPREAD = 0.8  # identity spread around its group
NOISE = 0.65  # per-image noise norm: genuine cosine ~ 1 / (1 + NOISE**2)


def _noise(rng, count: int, dim: int, norm: float) -> np.ndarray:
    return rng.normal(size=(count, dim)).astype(np.float32) * np.float32(norm / math.sqrt(dim))


def identity_data(n: int, queries: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    groups = l2_normalise(rng.normal(size=(GROUPS, dim)).astype(np.float32))
    centres = l2_normalise(groups[rng.integers(0, GROUPS, IDENTITIES)] + _noise(rng, IDENTITIES, dim, SPREAD))

    def images(count):
        return l2_normalise(centres[rng.integers(0, IDENTITIES, count)] + _noise(rng, count, dim, NOISE))

    return images(n), images(queries)


def random_data(n: int, queries: int, dim: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    return (l2_normalise(rng.normal(size=(n, dim)).astype(np.float32)),
            l2_normalise(rng.normal(size=(queries, dim)).astype(np.float32)))


def realistic_data(n: int, queries: int, dim: int, seed: int = 2):
    gallery = realistic_gallery(n, dim, seed=seed)
    rng = np.random.default_rng(seed + 1)
    rows = rng.choice(n, queries, replace=False)
    probes = np.concatenate([poor_captures(gallery.vectors[rows[:queries // 2]], 0.8, rng),
                             poor_captures(gallery.vectors[rows[queries // 2:]], 0.5, rng)])
    return gallery, probes


@dataclass(frozen=True)
class Judge:
    """What an answer is held to: recall@k, or (realistic galleries) the faces at or above
    ``floor`` found and the first candidate kept."""

    truth: np.ndarray
    truth_scores: np.ndarray
    target: float
    floor: float | None = None

    def floor_recall(self, found: np.ndarray) -> float:
        above = [set(t[s >= self.floor].tolist()) for t, s in zip(self.truth, self.truth_scores)]
        hits = sum(len(a & set(f.tolist())) for a, f in zip(above, found))
        return hits / max(1, sum(len(a) for a in above))

    def first_agreement(self, found: np.ndarray) -> float:
        return float(np.mean(found[:, 0] == self.truth[:, 0]))

    def good_enough(self, found: np.ndarray) -> bool:
        if self.floor is None:
            return recall_at(found, self.truth) >= self.target
        return self.floor_recall(found) >= Targets().floor_recall and self.first_agreement(found) >= Targets().rank1_agreement


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def measure(name: str, search_batch, search_one, queries, judge: Judge, threads_list, build_s, nbytes, n, rows,
            use_threads=lambda threads: None):
    """Batched QPS (batches of all queries), one-at-a-time QPS and latency, recall@k;
    ``use_threads`` sets a method's own thread count before each thread count is timed."""
    single = queries[:200]
    for threads in threads_list:
        use_threads(threads)
        with threadpool_limits(threads):
            search_batch(queries, threads)  # one untimed pass: first touches of index memory are not search time
            found, seconds = timed(search_batch, queries, threads)
            _, one_s = timed(lambda: [search_one(q, threads) for q in single])
        rows.append({"n": n, "method": name, "threads": threads, "build_s": build_s, "bytes_per_face": nbytes / n,
                     "qps_batch": len(queries) / seconds, "qps_single": len(single) / one_s,
                     "latency_ms": 1000 * one_s / len(single), "recall": recall_at(found, judge.truth),
                     "floor_recall": judge.floor_recall(found) if judge.floor is not None else None,
                     "first": judge.first_agreement(found) if judge.floor is not None else None})


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run(n: int, kind: str, args, rows, scratch: Path) -> None:
    import faiss

    dim, k, label = args.dim, args.k, f"{kind} {n:,}"
    if kind == "realistic":
        gallery, queries = realistic_data(n, args.queries, dim)
        data, subjects = gallery.vectors, gallery.subjects
        floor = chance_floor(data, subjects, n).score
        targets = Targets()
    else:
        data, queries = (identity_data if kind == "identity" else random_data)(n, args.queries, dim)
        subjects, floor, targets = None, None, Targets(0.0, 0.0, args.target)

    def faiss_threads(t):
        faiss.omp_set_num_threads(t)

    flat = faiss.IndexFlatIP(dim)
    (_, build) = timed(flat.add, data)
    faiss_threads(max(args.threads))
    truth_scores, truth = flat.search(queries, k)
    judge = Judge(truth, truth_scores, args.target, floor)

    # facelead's exact path (small galleries, deltas)
    exact = {t: ExactIndex(data, t) for t in args.threads}
    measure(f"{label} exact (facelead)", lambda q, t: exact[t].search(q, k)[1],
            lambda q, t: exact[t].search(q[None], k), queries, judge, args.threads, 0.0, data.nbytes, n, rows)

    measure(f"{label} faiss IndexFlatIP", lambda q, t: (faiss_threads(t), flat.search(q, k)[1])[1],
            lambda q, t: flat.search(q[None], k), queries, judge, args.threads, build, data.nbytes, n, rows)

    for rescore in ("float32", "int8"):
        base = ScannParams.for_size(n, rescore)
        (index, params, _), build = timed(build_tuned, data, base, k, targets, floor or 1.0, subjects,
                                          max(args.threads))  # as a build does
        folder = scratch / f"scann-{n}-{rescore}"
        save_scann(index, folder)
        nbytes = folder_bytes(folder)
        shutil.rmtree(folder)
        threaded = {}

        def search(q, t):
            return threaded[t].search(q, k)[1]

        def use_threads(t, index=index):
            threaded[t] = index.using_threads(t)

        measure(f"{label} ScaNN {rescore} ({params.leaves} leaves, {params.leaves_to_search} searched, "
                f"{params.reorder} re-scored, {params.dims_per_block}-d/{params.centres_per_block} AH)", search, search, queries, judge,
                args.threads, build, nbytes, n, rows, use_threads)

    if not args.skip_hnsw:
        hnsw = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 100
        faiss_threads(max(args.threads))
        _, build = timed(hnsw.add, data)
        for ef in (64, 128, 256, 512, 1024):
            hnsw.hnsw.efSearch = ef
            if judge.good_enough(hnsw.search(queries, k)[1]):
                break
        measure(f"{label} faiss HNSW M16 ef{ef}", lambda q, t: (faiss_threads(t), hnsw.search(q, k)[1])[1],
                lambda q, t: hnsw.search(q[None], k), queries, judge, args.threads, build,
                faiss.serialize_index(hnsw).nbytes, n, rows)

    nlist = int(4 * np.sqrt(n))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    faiss_threads(max(args.threads))
    _, build = timed(lambda: (ivf.train(data), ivf.add(data)))
    for nprobe in (8, 16, 32, 64, 128, 256, 512, nlist):
        ivf.nprobe = nprobe
        if judge.good_enough(ivf.search(queries, k)[1]):
            break
    measure(f"{label} faiss IVFFlat {nlist} lists, nprobe {nprobe}", lambda q, t: (faiss_threads(t), ivf.search(q, k)[1])[1],
            lambda q, t: ivf.search(q[None], k), queries, judge, args.threads, build,
            faiss.serialize_index(ivf).nbytes, n, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--kinds", nargs="+", default=["identity", "realistic", "random"])
    parser.add_argument("--random-max", type=int, default=100_000, help="largest size for random vectors")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--target", type=float, default=0.99,
                        help="recall@k each index is tuned to (identity and random vectors)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dim", type=int, default=load_manifest(Settings().models.recogniser_manifest).output_dim)
    parser.add_argument("--skip-hnsw", action="store_true", help="HNSW builds take minutes at 1M")
    args = parser.parse_args()

    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="facelead-search-bench-") as tmp:
        for n in args.sizes:
            for kind in args.kinds:
                if kind == "random" and n > args.random_max:
                    continue
                started = time.perf_counter()
                run(n, kind, args, rows, Path(tmp))
                print(f"# {kind} {n:,}: {time.perf_counter() - started:.0f} s", flush=True)
    k = args.k
    print(f"\n{args.dim}-d unit vectors, {args.queries} probes, k={k}, recall@{k} against exact; realistic "
          "galleries also: recall of the faces at or above the chance floor, first candidate kept")
    header = (f"{'method':<82}{'thr':>4}{'build s':>9}{'B/face':>8}{'QPS batch':>11}{'QPS 1-by-1':>11}{'ms/probe':>9}"
              f"{'recall':>8}{'floor':>8}{'first':>8}")
    print(header)
    for r in rows:
        judged = (f"{r['floor_recall']:>8.4f}{r['first']:>8.4f}" if r["floor_recall"] is not None else "")
        print(f"{r['method']:<82}{r['threads']:>4}{r['build_s']:>9.1f}{r['bytes_per_face']:>8.0f}{r['qps_batch']:>11.0f}"
              f"{r['qps_single']:>11.0f}{r['latency_ms']:>9.2f}{r['recall']:>8.4f}{judged}")
    print()
    for n in args.sizes:
        by = {(r["method"].split(" ", 2)[2].split(" (")[0].split(" ef")[0].split(" 4")[0], r["threads"]): r
              for r in rows if r["method"].startswith(f"identity {n:,}")}
        for t in args.threads:
            flat, exact = by.get(("faiss IndexFlatIP", t)), by.get(("exact", t))
            scann = by.get(("ScaNN float32", t))
            if flat and exact and scann:
                print(f"identity {n:,}, {t} thread(s): ScaNN/faiss-flat {scann['qps_batch'] / flat['qps_batch']:.1f}x; "
                      f"exact/faiss-flat batched {exact['qps_batch'] / flat['qps_batch']:.2f}x, "
                      f"one-by-one {exact['qps_single'] / flat['qps_single']:.2f}x")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
