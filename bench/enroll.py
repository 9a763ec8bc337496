"""Enrollment throughput: the whole enroll_gallery flow against the raw model loop.

Both run on the same images with the same number of single-thread worker processes.
faces-dev photos are repeated to reach the volume asked for; each copy gets a unique
trailer after the image data, so content hashes differ while decoding is unchanged.

    .venv/bin/python bench/enroll.py [--images 1200] [--workers N] [--faces-dev PATH]

The flow is timed twice: starting its own LocalCluster (a command run without a
server), and on a cluster already running (as under ``facelead serve``, or with
``FACELEAD_DASK__ADDRESS``).
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import faces_dev


def make_images(faces_dev_folder: Path, count: int, folder: Path) -> list[tuple[Path, str]]:
    """``count`` distinct files cycled from faces-dev's labeled photos."""
    photos = faces_dev.labeled(faces_dev_folder)
    made = []
    for i in range(count):
        source, identity = photos[i % len(photos)]
        target = folder / f"{i:05d}{source.suffix}"
        target.write_bytes(source.read_bytes() + f"copy-{i}".encode())
        made.append((target, identity))
    return made


def _raw_one(path: str) -> int:
    from models.align import align_face
    from models.faces import load
    from models.image import decode_image

    detector, embedder = load(_MODELS)
    image = decode_image(Path(path).read_bytes(), 100_000_000)
    found = detector.detect(image)
    if not len(found):
        return 0
    embedder.embed(align_face(image, found.landmarks[found.largest()], embedder.manifest.input_size)[None])
    return 1


def _init(models) -> None:
    """Each raw worker process: single-threaded like a Dask worker (which sets
    OMP/MKL/OPENBLAS_NUM_THREADS=1, so OpenCV runs one thread too), models loaded."""
    global _MODELS
    _MODELS = models
    import cv2
    from threadpoolctl import threadpool_limits

    from models.faces import load

    cv2.setNumThreads(1)
    threadpool_limits(1)

    load(models)  # model loading is set-up, not per-image work, in both measurements


def raw_loop(paths: list[Path], models, workers: int) -> tuple[int, float, float]:
    """(faces, seconds of the loop, seconds starting the processes and loading the models)."""
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(models,)) as pool:
        list(pool.map(_raw_one, [str(paths[0])] * workers))
        start = time.perf_counter()
        faces = sum(pool.map(_raw_one, [str(p) for p in paths], chunksize=8))
        return faces, time.perf_counter() - start, start - started


def main() -> None:
    parser = faces_dev.parser(__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1200)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="facelead-bench-") as tmp:
        work = Path(tmp)
        os.environ.update({"FACELEAD_DATA_DIR": str(work / "data"), "FACELEAD_DASK__WORKERS": str(args.workers)})
        from facelead.policy import Action
        from facelead.settings import Settings
        from facelead.workflow import add_user, run_flow_for
        from flows.enroll_gallery import enroll_gallery
        from tasks.faces import face_models

        add_user(Settings().database_path, None, "bench-admin", "Bench", ["admin"], None, Settings().security)

        (work / "images").mkdir()
        images = make_images(args.faces_dev, args.images, work / "images")
        manifest = work / "gallery.csv"
        with manifest.open("w", newline="") as fh:
            csv.writer(fh).writerows([("image_path", "subject_id"), *((str(p), s) for p, s in images)])
        models = face_models(Settings())

        raw_faces, raw_s, raw_setup_s = raw_loop([p for p, _ in images], models, args.workers)

        import dask
        from distributed import LocalCluster
        from distributed.security import Security
        from prefect import flow

        from facelead.cluster import write_tls_files
        from flows.runtime import LOCAL_WORKER_CONFIG, dask_task_runner, share_prefect_api

        def enroll(flow, gallery: str):
            """An enrollment as facelead runs one for a signed-in admin (policy check, grant)."""
            return run_flow_for(Settings(), "bench-admin", Action.ENROLL, f"gallery:{gallery}", flow,
                                source=str(manifest), gallery=gallery)

        flow(lambda: None, name="warm-up")()  # the Prefect API starts before timing, as a server would be up
        timings = []
        start = time.perf_counter()
        summary = enroll(enroll_gallery, "bench-own-cluster")
        timings.append(("flow, starting its LocalCluster", summary.enrolled, time.perf_counter() - start))

        share_prefect_api()
        dask.config.set(LOCAL_WORKER_CONFIG)  # as facelead serve's shared cluster: TLS, client files for the flow
        security = Security.temporary()
        write_tls_files(security, work / "tls")
        with LocalCluster(**{**dask_task_runner(Settings()).cluster_kwargs, "security": security}) as cluster:
            os.environ.update({"FACELEAD_DASK__ADDRESS": cluster.scheduler_address,
                               "FACELEAD_DASK__TLS_DIR": str(work / "tls")})
            start = time.perf_counter()
            summary = enroll(enroll_gallery.with_options(task_runner=dask_task_runner(Settings())),
                             "bench-running-cluster")
            timings.append(("flow, on a running cluster (serve)", summary.enrolled, time.perf_counter() - start))

    # each flow timing against the raw loop in the same state: processes started in the timing or not
    raw = {False: ("raw loop, processes ready", raw_s), True: ("raw loop, starting its processes", raw_s + raw_setup_s)}
    print(f"\n{args.images} images, {args.workers} worker processes x 1 thread, "
          f"{Settings().dask.batch_size(args.images)} images per Dask task")
    print(f"{'path':<36}{'faces':>7}{'seconds':>9}{'faces/s':>9}{'ratio':>7}  against")
    for name, seconds in raw.values():
        print(f"{name:<36}{raw_faces:>7}{seconds:>9.1f}{raw_faces / seconds:>9.2f}")
    for (name, faces, seconds), starts in zip(timings, (True, False)):
        against, raw_seconds = raw[starts]
        print(f"{name:<36}{faces:>7}{seconds:>9.1f}{faces / seconds:>9.2f}"
              f"{faces / seconds / (raw_faces / raw_seconds):>7.3f}  {against}")
    print("goal: ratio >= 0.85")


if __name__ == "__main__":
    main()
