"""The JSON bodies the HTTP API accepts."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class SignIn(BaseModel):
    user_id: str
    secret: str


class NewUser(BaseModel):
    user_id: str
    name: str
    roles: list[str]
    certified_until: date | None = None


class NewRoles(BaseModel):
    roles: list[str]
    certified_until: date | None = None


class NewSecret(BaseModel):
    proof: str = Field(description="your enrollment code, or your current secret to rotate it")
    secret: str


class Reason(BaseModel):
    reason: str = ""


class NewRequest(BaseModel):
    case_number: str
    offense_code: str
    justification: str
    gallery: str = "default"
    probe_name: str = Field(description="the probe's file name, for the record")
    probe_base64: str
    face_index: int | None = Field(None, ge=0, description="the probe face to search, from 0 in detector order; "
                                                            "default: a lone face, else chosen when the search runs")
    quality_override: str | None = Field(None, description="why that face must be searched although it is below "
                                                           "the probe quality bar")
    requested_for: str | None = Field(None, description="the detective (requester role) who asked for the search")


class SearchAsk(BaseModel):
    k: int = 20
    face_index: int | None = None
    quality_override: str | None = None


class Determination(BaseModel):
    rank: int | None = None


class Enrollment(BaseModel):
    source: str | None = None
    gallery: str = "default"
    source_name: str | None = None


class IndexBuild(BaseModel):
    shards: int | None = None


class PairMark(BaseModel):
    subject_a: str
    subject_b: str
    same_person: bool
    note: str = ""


class Removal(BaseModel):
    subject: str
    reason: str


class EvaluationAsk(BaseModel):
    source: str | None = None
    gallery: str | None = None
    recognisers: list[str] | None = None
    group_columns: list[str] | None = None
    bootstrap: int = 200
    quality_bar: str = "gallery"
    bar_limits: dict[str, float] | None = None
    degraded_probes: int = 200


class Period(BaseModel):
    start: date | None = None
    end: date | None = None


class Sql(BaseModel):
    sql: str
