"""The one settings class. Every field can be set by environment: ``FACELEAD_<FIELD>``,
nested with ``__`` (e.g. ``FACELEAD_DASK__ADDRESS=tcp://scheduler:8786``)."""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from facelead.files import secrets_dir


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class DaskSettings(BaseModel):
    """Where enrollment runs: an existing cluster's address, or a LocalCluster."""

    address: str | None = Field(None, description="tcp://host:8786 or tls://host:8786 of an existing Dask scheduler")
    tls_dir: Path | None = Field(
        None, description="folder with the TLS cluster's ca.pem, cert.pem and key.pem (facelead serve writes its own)")
    workers: int = Field(default_factory=_cores, ge=1, description="LocalCluster worker processes")
    images_per_task: int | None = Field(
        None, ge=1, description="images per Dask task; default: about 4 tasks a worker, at most 256")

    def batch_size(self, images: int) -> int:
        """Images per task: each Prefect task run costs ~0.3-0.5 s on a worker, so tasks are
        large; a few per worker keep the workers evenly loaded to the end."""
        if self.images_per_task:
            return self.images_per_task
        return max(1, min(256, -(-images // (self.workers * 4))))


class ModelSettings(BaseModel):
    """Which models to run and how many threads each onnxruntime session may use."""

    detector_manifest: str = Field("yunet-2023mar", description="manifest name or .toml path")
    recogniser_manifest: str = Field("sface-2021dec", description="manifest name or .toml path")
    threads: int = Field(1, ge=1, description="onnxruntime intra-op threads per session")
    detector_score: float = Field(0.7, gt=0, lt=1, description="minimum face detector score")


class IndexSettings(BaseModel):
    """When and how galleries get a ScaNN index."""

    exact_below: int = Field(5000, ge=0, description="galleries smaller than this are searched exactly")
    shards: int = Field(1, ge=1, description="shards per index build, searched in parallel on Dask")
    rescore: str = Field("float32", pattern="^(float32|int8)$", description="exact re-scoring precision")
    target_floor_recall: float = Field(
        0.995, gt=0, le=1, description="share of the faces scoring at or above the candidate floor that a build must "
                                       "find on its tuning probes (one-sided 95% bound); unmet: search exactly")
    target_rank1: float = Field(
        0.999, gt=0, le=1, description="share of mated tuning probes (exact first candidate at or above the "
                                       "floor) whose first candidate must be exact search's first; unmet: search exactly")
    candidate_floor: float | None = Field(
        None, ge=-1, le=1, description="score at or above which a face must be found; default: the score at which "
                                       "the gallery expects one chance candidate, from its own cross-subject scores")
    leaves_to_search: int | None = Field(None, ge=1, description="start tuning from this many leaves searched per probe")
    reorder: int | None = Field(None, ge=1, description="start tuning from this many candidates re-scored per probe")


class QualityBar(BaseModel):
    """Limits one quality suite checks; None switches a check off. Units: models/quality.py."""

    model_config = ConfigDict(frozen=True)

    max_faces: int | None = Field(None, ge=1, description="faces the detector may find in the image")
    max_rival_faces: int | None = Field(None, ge=0, description="faces nearly as prominent as the chosen one")
    min_inter_eye_px: float = Field(ge=0, description="pixels between the eye centres")
    min_detector_score: float = Field(ge=0, le=1, description="detector confidence")
    min_sharpness: float = Field(ge=0, description="variance of the Laplacian of the aligned face")
    min_brightness: float = Field(ge=0, le=255, description="mean grey level of the face")
    max_brightness: float = Field(ge=0, le=255, description="mean grey level of the face")
    max_clipped_fraction: float = Field(ge=0, le=1, description="share of face pixels crushed or blown")
    min_contrast: float = Field(ge=0, description="standard deviation of the face's grey levels")
    max_roll_deg: float = Field(ge=0, le=180, description="eye line tilt either way")
    max_yaw_deg: float = Field(ge=0, le=90, description="head turn either way (estimate)")
    max_pitch_deg: float = Field(ge=0, le=90, description="head nod either way (estimate)")


GALLERY_BAR = dict(
    max_rival_faces=0, min_inter_eye_px=40, min_detector_score=0.7, min_sharpness=35, min_brightness=50,
    max_brightness=210, max_clipped_fraction=0.1, min_contrast=12, max_roll_deg=15, max_yaw_deg=35, max_pitch_deg=25)
PROBE_BAR = dict(
    min_inter_eye_px=20, min_detector_score=0.7, min_sharpness=15, min_brightness=25,
    max_brightness=235, max_clipped_fraction=0.35, min_contrast=6, max_roll_deg=40, max_yaw_deg=60, max_pitch_deg=40)


# Every limit open: a face is measured and embedded whatever its quality (evaluation, ungated).
OPEN_BAR = dict(min_inter_eye_px=0, min_detector_score=0, min_sharpness=0, min_brightness=0, max_brightness=255,
                max_clipped_fraction=1, min_contrast=0, max_roll_deg=180, max_yaw_deg=90, max_pitch_deg=90)
BAR_NAMES = ("gallery", "probe", "none")


class QualitySettings(BaseModel):
    """The gallery and probe quality bars; expectations.quality justifies the defaults.

    One limit can be changed alone, e.g. ``FACELEAD_QUALITY__GALLERY__MIN_INTER_EYE_PX=90``.
    """

    gallery: QualityBar = QualityBar(**GALLERY_BAR)
    probe: QualityBar = QualityBar(**PROBE_BAR)

    @field_validator("gallery", "probe", mode="before")
    @classmethod
    def _over_defaults(cls, value: object, info: ValidationInfo) -> object:
        defaults = GALLERY_BAR if info.field_name == "gallery" else PROBE_BAR
        return {**defaults, **value} if isinstance(value, dict) else value

    def named(self, name: str, limits: dict[str, float] | None = None) -> QualityBar:
        """The gallery, probe or open ("none") bar, with ``limits`` changed (a custom bar);
        ValueError naming an unknown bar or limit."""
        if name not in BAR_NAMES:
            raise ValueError(f"unknown quality bar {name!r}; the bars are {', '.join(BAR_NAMES)}")
        unknown = sorted(set(limits or {}) - set(QualityBar.model_fields))
        if unknown:
            raise ValueError(f"unknown quality limit(s) {', '.join(unknown)}; the limits are "
                             f"{', '.join(QualityBar.model_fields)}")
        base = {"gallery": self.gallery, "probe": self.probe, "none": QualityBar(**OPEN_BAR)}[name]
        return QualityBar(**{**base.model_dump(), **(limits or {})})


class SecuritySettings(BaseModel):
    """How long permissions last and how hard guessing secrets is."""

    approval_days: float = Field(7, gt=0, description="an approved request may be searched for this many days")
    enrollment_code_hours: float = Field(24, gt=0, description="an enrollment code sets a secret within this many hours")
    grant_seconds: float = Field(900, gt=0, description="a flow run must start within this many seconds of its grant")
    grant_public_key: str = Field(
        "", pattern="^([0-9a-f]{64})?$",
        description="hex Ed25519 key that checks grants; `serve` gives it to flow runs under service.run_user, who "
                    "may not read the private key (empty: derived from the private key file)")
    sign_in_window_minutes: float = Field(15, gt=0, description="failed sign-ins are counted over this window")
    max_failures_per_user: int = Field(
        5, ge=1, description="failed sign-ins for one user name from one address within the window before each "
                             "further try waits (growing)")
    sign_in_delay_seconds: float = Field(30, gt=0, description="the first wait after too many failures; each "
                                                               "further failure doubles it, up to the window")
    max_failures_per_address: int = Field(20, ge=1, description="failed sign-ins from one address within the window")
    session_idle_minutes: float = Field(15, gt=0, description="a session unused this long ends")
    session_hours: float = Field(12, gt=0, description="a session ends this long after sign-in, used or not")
    audit_snapshot_seconds: float = Field(
        60, ge=0, description="auditors' queries read a snapshot of the warehouse at most this old")
    audit_query_seconds: float = Field(30, gt=0, description="an auditor's query is stopped after this long")
    audit_query_memory: str = Field("256MB", description="memory an auditor's query may use (DuckDB's memory_limit)")
    audit_query_rows: int = Field(10_000, ge=1, description="rows an auditor's query may answer; more is refused")
    audit_query_bytes: int = Field(16 * 1024 * 1024, ge=1024,
                                   description="bytes of text an auditor's query may answer; more is refused")
    audit_queries_at_once: int = Field(2, ge=1, description="auditor queries (and snapshot builds) running at once, "
                                                            "one per person; another is refused as busy")


class FilingSettings(BaseModel):
    """What a search request must carry besides its probe and offense code."""

    case_number_pattern: str = Field(
        r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}",
        description="a case number matches this regular expression in full (the agency's format; default: a "
                    "letter or digit, then letters, digits, '.', '_' or '-', up to 40 in all)")
    justification_min_chars: int = Field(10, ge=1, description="a justification has at least this many characters")
    justification_max_chars: int = Field(2000, ge=1, description="and at most this many")

    @model_validator(mode="after")
    def _sane(self) -> FilingSettings:
        re.compile(self.case_number_pattern)
        if self.justification_max_chars < self.justification_min_chars:
            raise ValueError("justification_max_chars is below justification_min_chars")
        return self


class ServiceSettings(BaseModel):
    """Where ``facelead serve`` answers, and where the command line finds it."""

    host: str = Field("127.0.0.1", description="address the HTTP API listens on; put TLS in front of it to go beyond")
    port: int = Field(8470, ge=1, le=65535, description="port of the HTTP API")
    url: str | None = Field(None, description="the API as clients reach it; default http://<host>:<port>")
    session_file: Path = Field(Path("~/.config/facelead/session.json"),
                               description="where `facelead login` keeps your session (owner-only)")
    trusted_proxies: list[str] = Field(
        [], description="addresses of the reverse proxies (TLS in front of the service) whose X-Forwarded-For is "
                        "believed; from anyone else it is ignored, so a sign-in is limited and audited by the "
                        "address it really came from")

    max_body_bytes: int = Field(
        256 * 1024, ge=1024, description="the largest request body the service reads, probe uploads aside; a "
                                         "larger one is refused (413) before it is read")
    max_probe_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="the largest probe photo a request may upload (the web form's file, "
                                              "or the API's base64 of it); a larger one is refused (413) before "
                                              "it is read or kept")
    run_user: str | None = Field(
        None, description="a lesser OS account for the worker and its flow runs (`serve` shares the data folder "
                          "with its group, never the keys); none: they run as the service account")

    def uvicorn_options(self) -> dict[str, Any]:
        """How uvicorn reads a request's address: proxy headers only from ``trusted_proxies``."""
        return {"proxy_headers": bool(self.trusted_proxies), "forwarded_allow_ips": self.trusted_proxies or None}

    @property
    def base_url(self) -> str:
        return (self.url or f"http://{self.host}:{self.port}").rstrip("/")


class Settings(BaseSettings):
    """facelead configuration; derived paths live under ``data_dir`` unless set."""

    model_config = SettingsConfigDict(env_prefix="FACELEAD_", env_nested_delimiter="__")

    data_dir: Path = Field(Path("data"), description="database, model cache, sheets, demo files")
    database: Path | None = Field(None, description="DuckDB file; default <data_dir>/facelead.duckdb")
    user: str = Field(default_factory=getpass.getuser, description="who signs in at the command line (FACELEAD_USER)")
    enroll_source: str | None = Field(
        None, description="manifest or <subject>/<image> folder the scheduled enrollment reads (the drop folder)")
    image_roots: list[Path] = Field(
        [], description="folders a manifest may name images in besides its own (JSON list); anything else is refused")
    max_image_pixels: int = Field(
        50_000_000, ge=1, description="refuse larger images before decoding (a decode at the limit peaks near "
                                      "0.5 GB; bench/bounds.py)")
    subject_attributes: list[str] = Field(
        ["sex", "race", "birth_year"], description="manifest columns kept per subject, for group reports of the "
                                                   "gallery (evaluate --gallery NAME --group COLUMN) (JSON list)")
    probe_retention_days: int = Field(
        365, ge=1, description="probe images kept with searches are purged after this many days")
    upload_grace_hours: float = Field(
        24, gt=0, description="an uploaded probe that no request uses is deleted by the purge after this many hours "
                              "(a form left half done)")
    retired_build_days: int = Field(
        90, ge=0, description="a retired index build is deleted by the purge after this many days; until then a "
                              "search it answered can be re-run on it")
    lead_corroboration: str = Field(
        "Before any action on this lead, corroborate it with independent evidence (for example witness "
        "identification, physical evidence or a documented link to the scene). It may not be the sole basis for "
        "an arrest, a search warrant or a charge.",
        description="what the agency's policy requires before a released lead is acted on; printed on every lead report")
    offense_codes: list[str] = Field(
        ["violent-felony", "imminent-threat-to-life", "identify-deceased-or-incapacitated"], min_length=1,
        description="offenses a search request may name (JSON list)")
    dask: DaskSettings = DaskSettings()
    models: ModelSettings = ModelSettings()
    index: IndexSettings = IndexSettings()
    quality: QualitySettings = QualitySettings()
    security: SecuritySettings = SecuritySettings()
    service: ServiceSettings = ServiceSettings()
    filing: FilingSettings = FilingSettings()

    @model_validator(mode="after")
    def _threads_fit_cores(self) -> Settings:
        if self.dask.address is None and self.dask.workers * self.models.threads > _cores():
            raise ValueError(
                f"FACELEAD_DASK__WORKERS ({self.dask.workers}) x FACELEAD_MODELS__THREADS "
                f"({self.models.threads}) exceeds the {_cores()} cores here; lower one of them"
            )
        return self

    def replaced(self, **changes: Any) -> Settings:
        """A copy with ``changes``, validated anew; a section given as a dict changes only the
        keys it names (``replaced(service={"port": 8471})``)."""
        values = self.model_dump()
        for name, value in changes.items():
            values[name] = {**values[name], **value} if isinstance(value, dict) else value
        return type(self)(**values)

    @cached_property
    def database_path(self) -> Path:
        return self.database or self.data_dir / "facelead.duckdb"

    @cached_property
    def model_cache(self) -> Path:
        return self.data_dir / "models"

    @property
    def service_folders(self) -> tuple[Path, ...]:
        """Where facelead keeps what it makes from people's work (probes, sheets, index
        builds, reports, the auditors' snapshot, exports being staged) and its secrets and
        models: never a source to enroll from."""
        return (self.probes_dir, self.sheets_dir, self.index_dir, self.data_dir / "reports",
                self.audit_snapshot_path.parent, self.secrets_dir, self.model_cache,
                *self.data_dir.glob(".export-*"))

    @cached_property
    def index_dir(self) -> Path:
        """Index builds live beside the database, one folder each."""
        return self.database_path.parent / "indexes"

    @cached_property
    def secrets_dir(self) -> Path:
        """Owner-only: the grant key, the audit key and the service's other secrets, never in
        the database."""
        return secrets_dir(self.database_path)

    @cached_property
    def grant_key_path(self) -> Path:
        return self.secrets_dir / "grant.key"

    @cached_property
    def audit_snapshot_path(self) -> Path:
        """The auditors' snapshot of the warehouse (no pixels, vectors or secrets)."""
        return self.data_dir / "audit" / "snapshot.duckdb"

    @cached_property
    def probes_dir(self) -> Path:
        """Probe photos as uploaded with their requests, named by SHA-256."""
        return self.data_dir / "probes"

    @cached_property
    def sheets_dir(self) -> Path:
        return self.data_dir / "sheets"


_IN_FORCE: ContextVar[Settings | None] = ContextVar("facelead_settings_in_force", default=None)


@contextmanager
def in_force(settings: Settings) -> Iterator[Settings]:
    """``settings`` for what runs inside the block in this context (a flow called in this
    process, as ``workflow.run_flow_for`` calls it), in place of the environment's."""
    token = _IN_FORCE.set(settings)
    try:
        yield settings
    finally:
        _IN_FORCE.reset(token)


def current_settings() -> Settings:
    """The settings in force: those of the enclosing ``in_force`` block, else FACELEAD_* read
    from the environment now (a deployment's run, started by the worker)."""
    return _IN_FORCE.get() or Settings()
