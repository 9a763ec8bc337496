"""An analyst's search at realistic scale, end to end through the service, against a raw loop.

    .venv/bin/python bench/search_e2e.py [--faces 1000000] [--searches 50] [--folder data/bench-search]

The gallery is made once and then reused from ``--folder``: faces-dev's people (all but one
photo each, enrolled through the service) hidden among ``--faces`` synthetic strangers (one to
five photos a subject at SFace-like genuine scores: models/synthetic.py), and its index. Each
of ``--searches`` probes is a held-out faces-dev photo made poor (smaller, blurred, darker,
JPEG-compressed), filed by an analyst, approved by a supervisor and searched through the API;
the time from the search call to its answer is what the analyst waits for. The raw loop does
the same probes as: embed the probe, one matrix product over the memory-mapped gallery
vectors, top k. One table is printed.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import statistics
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import faces_dev
import numpy as np
from PIL import Image

from facelead.client import ServiceClient, ServiceRefused
from facelead.intake.batches import BatchContext, synthetic_table
from facelead.service import start_api, stop_api
from facelead.settings import Settings
from facelead.workflow import add_user, set_secret
from models import degrade
from models.faces import embed_measured, load, measure_face
from models.image import decode_image
from models.synthetic import SyntheticGallery, realistic_gallery
from tasks.faces import face_models
from tasks.index import has_rows
from warehouse import accounts, db, gallery_store

ROOT = Path(__file__).resolve().parents[1]
GALLERY, K, CHUNK = "bench", 20, 100_000
PEOPLE = {"bench.admin": ["admin"], "bench.analyst": ["analyst"], "bench.supervisor": ["supervisor"]}
POOR = [(40, 0.0, 1.0, 85), (30, 0.6, 0.8, 70), (26, 0.8, 0.6, 60), (22, 1.0, 0.5, 50), (20, 0.6, 0.7, 60)]


@dataclass(frozen=True)
class Probe:
    path: Path
    person: str


def _secret(user_id: str) -> str:
    return f"bench secret of {user_id}"


def _people(settings: Settings) -> None:
    with db.open_db(settings.database_path) as conn:
        if accounts.get_user(conn, "bench.admin"):
            return
    limits = settings.security
    for user_id, roles in PEOPLE.items():
        code = add_user(settings.database_path, None if user_id == "bench.admin" else "bench.admin", user_id, user_id,
                        roles, date(2099, 1, 1), limits)
        set_secret(settings.database_path, user_id, code, _secret(user_id), limits)


def _split(faces_dev_folder: Path) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """(gallery photos, held-out probe photos): the first photo of each person with several."""
    by_person: dict[str, list[Path]] = {}
    for path, identity in faces_dev.labeled(faces_dev_folder):
        by_person.setdefault(identity, []).append(path)
    gallery, held = [], []
    for person, paths in sorted(by_person.items()):
        paths = sorted(paths)
        if len(paths) > 1:
            held.append((paths[0], person))
            paths = paths[1:]
        gallery += [(p, person) for p in paths]
    return gallery, held


def _client(url: str, user_id: str) -> ServiceClient:
    client = ServiceClient(url)
    client.sign_in(user_id, _secret(user_id))
    return client


def _make_gallery(settings: Settings, url: str, faces_dev_folder: Path, faces: int) -> dict:
    """Enroll faces-dev (timed) and add the synthetic strangers, unless already there."""
    gallery, _ = _split(faces_dev_folder)
    manifest = settings.data_dir / "faces-dev-gallery.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image_path", "subject_id"])
        writer.writerows([str(p), person] for p, person in gallery)
    started = time.perf_counter()
    enrolled = _client(url, "bench.admin").json("POST", "/api/enrollments", {"source": str(manifest), "gallery": GALLERY})
    enroll_s = time.perf_counter() - started
    models = face_models(settings)
    ctx = BatchContext(GALLERY, "synthetic-strangers", models.recogniser.model_id, models.detector.model_id)
    started = time.perf_counter()
    strangers = realistic_gallery(faces, seed=2026)
    for start in range(0, faces, CHUNK):
        part = SyntheticGallery(strangers.vectors[start:start + CHUNK], strangers.subjects[start:start + CHUNK])
        with db.open_db(settings.database_path) as conn, db.transaction(conn):
            gallery_store.insert_enrolled(conn, synthetic_table(part, ctx, "stranger", first=start))
        print(f"  strangers {min(faces, start + CHUNK):>9,} of {faces:,}", flush=True)
    return {"enrolled": enrolled["enrolled"], "enroll_s": enroll_s, "strangers_s": time.perf_counter() - started}


def _gallery_file(settings: Settings, model_id: str) -> tuple[np.ndarray, list[str], list[str]]:
    """The gallery's vectors as a memory-mapped float32 file (written once), with face and subject ids."""
    folder = settings.data_dir / "raw"
    if not (folder / "vectors.npy").is_file():
        folder.mkdir(exist_ok=True)
        with db.open_db(settings.database_path, read_only=True) as conn:
            faces = gallery_store.gallery_vectors(conn, GALLERY, model_id, db.now())
        np.save(folder / "vectors.npy", faces.vectors)
        (folder / "ids.txt").write_text("\n".join(f"{f}\t{s}" for f, s in zip(faces.face_ids, faces.subject_ids)))
    ids = [line.split("\t") for line in (folder / "ids.txt").read_text().splitlines()]
    return np.load(folder / "vectors.npy", mmap_mode="r"), [f for f, _ in ids], [s for _, s in ids]


def _probes(settings: Settings, faces_dev_folder: Path, count: int) -> list[Probe]:
    """Held-out faces-dev photos made poor in several ways, as JPEG files."""
    _, held = _split(faces_dev_folder)
    models = face_models(settings)
    detector, _ = load(models)
    folder = settings.data_dir / "probes-poor"
    folder.mkdir(exist_ok=True)
    probes = []
    for n in range(count):
        path, person = held[n % len(held)]
        inter_eye, sigma, gain, quality = POOR[(n // len(held)) % len(POOR)]
        image = decode_image(path.read_bytes(), 10**8)
        found = detector.detect(image)
        marks = found.landmarks[found.largest()]
        poor = degrade.downscale_to_inter_eye(image, float(np.hypot(*(marks[1] - marks[0]))), inter_eye)
        poor = degrade.darken(degrade.blur(poor, sigma) if sigma else poor, gain)
        target = folder / f"{n:03d}-{person}.jpg"
        Image.fromarray(poor).save(target, quality=quality)
        probes.append(Probe(target, person))
    return probes


def _raw_search(settings: Settings, probe: Probe, vectors: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Embed the probe and rank the memory-mapped gallery: (seconds, top-k scores, rows)."""
    detector, embedder = load(face_models(settings))
    started = time.perf_counter()
    image = decode_image(probe.path.read_bytes(), settings.max_image_pixels)
    detections = detector.detect(image)
    measured = measure_face(image, detections, detections.largest(), detector, embedder.manifest.input_size)
    [face] = embed_measured([measured], embedder)
    scores = vectors @ face.vector
    rows = np.argpartition(-scores, K)[:K]
    rows = rows[np.argsort(-scores[rows])]
    return time.perf_counter() - started, scores[rows], rows


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = faces_dev.parser(__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=1_000_000, help="synthetic strangers (default: %(default)s)")
    parser.add_argument("--searches", type=int, default=50, help="probes searched (default: %(default)s)")
    parser.add_argument("--folder", type=Path, default=ROOT / "data" / "bench-search",
                        help="where the gallery is made once and reused (default: %(default)s)")
    parser.add_argument("--rebuild", action="store_true", help="build the gallery's index again, as after a change to tuning")
    args = parser.parse_args()
    folder = args.folder / f"{args.faces}"
    os.environ["FACELEAD_DATA_DIR"] = str(folder)  # the service's flows read their settings from the environment
    os.environ["FACELEAD_IMAGE_ROOTS"] = json.dumps([str(args.faces_dev.resolve())])
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _people(settings)
    server, thread = start_api(settings)
    url = settings.service.base_url
    try:
        model_id = face_models(settings).recogniser.model_id
        with db.open_db(settings.database_path, read_only=True) as conn:
            size, build = gallery_store.gallery_size(conn, GALLERY, model_id), gallery_store.active_build(conn, GALLERY, model_id)
        made = {}
        if size < args.faces:
            print(f"making the gallery: faces-dev and {args.faces:,} strangers, once, in {folder}", flush=True)
            made = _make_gallery(settings, url, args.faces_dev, args.faces)
        if build is None or not has_rows(build) or args.rebuild:
            print("building its index through the service", flush=True)
            _client(url, "bench.admin").json("POST", f"/api/galleries/{GALLERY}/index", {"shards": 1})
        with db.open_db(settings.database_path, read_only=True) as conn:
            size, build = gallery_store.gallery_size(conn, GALLERY, model_id), gallery_store.active_build(conn, GALLERY, model_id)
            built = gallery_store.get_build(conn, build.build_id)
        build_folder = settings.database_path.parent / build.folder
        index_bytes = sum(p.stat().st_size for p in build_folder.glob("shard-*/**/*") if p.is_file())
        rows_bytes = sum(p.stat().st_size for p in build_folder.iterdir() if p.is_file())
        vectors, face_ids, subject_ids = _gallery_file(settings, model_id)
        probes = _probes(settings, args.faces_dev, args.searches)
        analyst, supervisor = _client(url, "bench.analyst"), _client(url, "bench.supervisor")

        def search(n: int, probe: Probe) -> tuple[float, dict]:
            request = analyst.json("POST", "/api/requests", {
                "case_number": f"BENCH-{n:03d}", "offense_code": settings.offense_codes[0], "justification": "benchmark search",
                "gallery": GALLERY, "probe_name": probe.path.name,
                "probe_base64": base64.b64encode(probe.path.read_bytes()).decode()})["request_id"]
            supervisor.json("POST", f"/api/requests/{request}/approve", {"reason": "benchmark"})
            started = time.perf_counter()
            answer = analyst.json("POST", f"/api/requests/{request}/search",
                                  {"k": K, "quality_override": "benchmark of poor probes"})
            return time.perf_counter() - started, answer

        search(999, probes[0])  # the service's first search loads models and the index, as after a restart
        waits, computes, firsts, found_above, above, raw_waits, raw_firsts, refused = [], [], 0, 0, 0, [], 0, []
        agree = 0
        floor = built.candidate_floor
        for n, probe in enumerate(probes):
            try:
                wait, answer = search(n, probe)
            except ServiceRefused as exc:  # e.g. no face found in a probe this poor: a miss
                refused.append(f"{probe.path.name} ({exc.reason})")
                continue
            with db.open_db(settings.database_path, read_only=True) as conn:
                record = conn.execute("SELECT rank_ms, method FROM searches WHERE search_id = ?",
                                      [answer["search_id"]]).fetchall()[0]
            waits.append(wait)
            computes.append(record[0] / 1000)
            firsts += answer["candidates"][0]["subject_id"] == probe.person
            raw_wait, raw_scores, raw_rows = _raw_search(settings, probe, vectors)
            raw_waits.append(raw_wait)
            raw_firsts += subject_ids[raw_rows[0]] == probe.person
            agree += face_ids[raw_rows[0]] == answer["candidates"][0]["face_id"]
            exact_above = {face_ids[r] for r, s in zip(raw_rows, raw_scores) if s >= floor}
            above += len(exact_above)
            found_above += len(exact_above & {c["face_id"] for c in answer["candidates"]})
        p50, raw_p50 = statistics.median(waits), statistics.median(raw_waits)
        enroll_rate = made["enrolled"] / made["enroll_s"] if made else float("nan")
        print(f"\n{size:,} faces ({args.faces:,} synthetic strangers, faces-dev hidden), {len(probes)} poor probes, k={K}; "
              f"index: {'exact fallback' if built['exact_fallback'] else 'ScaNN'}")
        rows = [
            ("end-to-end search through the service, p50 / p95 s", f"{p50:.3f} / {_percentile(waits, 95):.3f}"),
            ("  of which ranking the gallery (rank_ms), p50 / p95 ms",
             f"{1000 * statistics.median(computes):.1f} / {1000 * _percentile(computes, 95):.1f}"),
            ("raw loop: embed + matrix product over memory-mapped vectors, p50 / p95 s",
             f"{raw_p50:.3f} / {_percentile(raw_waits, 95):.3f}"),
            ("service p50 / raw loop p50", f"{p50 / raw_p50:.2f}"),
            ("rank-1 of the hidden mates: service / raw loop (refused probes count as misses)",
             f"{firsts / len(probes):.3f} / {raw_firsts / len(probes):.3f}"),
            ("first candidate the same as exact search's (searched probes)", f"{agree / len(waits):.3f}"),
            ("probes refused (no usable face)", ", ".join(refused) or "none"),
            (f"recall of the faces at or above the floor ({floor:.3f})",
             f"{found_above / above:.4f} ({found_above} of {above})" if above else "no face above the floor"),
            ("index build s (tuned recall above floor / rank-1 agreement / recall@50)",
             f"{built['build_seconds']:.0f} ({built['floor_recall']:.4f} / {built['rank1_agreement']:.4f} / "
             f"{built['recall']:.3f})"),
            ("index bytes per face, in memory when loaded (raw float32: 512)",
             f"{index_bytes / size:.0f} ({index_bytes / (size * 512):.2f}x)"),
            ("rows and members files per face, on disk and memory-mapped", f"{rows_bytes / size:.0f}"),
        ]
        if made:
            rows += [("enrollment through the service, faces/s (faces-dev)", f"{enroll_rate:.2f}"),
                     (f"index build / enrolling {size:,} faces at that rate",
                      f"{100 * built['build_seconds'] * enroll_rate / size:.3f} %")]
        for label, value in rows:
            print(f"{label:<76} {value}")
    finally:
        stop_api(server, thread)


if __name__ == "__main__":
    main()
