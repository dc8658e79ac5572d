"""What the store holds: plain records, serialisable to flat JSON-friendly dicts (one table each)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar

MANUAL_TRIAGE = "Manual triage"
ALLOCATED, NEEDS_TRIAGE = "allocated", "manual_triage"
STRATEGY_MODES = ("champion_only", "canary", "shadow")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class StoredComplaint:
    """A row of ``raw_complaints``: the redacted complaint and where it came from."""

    complaint_id: str
    date_received: str
    narrative: str
    attributes: dict[str, str]
    content_hash: str
    batch_id: str
    ingested_at: str


@dataclass(frozen=True)
class TaskPrediction:
    task: str
    label: str
    score: float
    model_version: str
    served_by: str  # champion | challenger: which line of the task's strategy answered; "Customer record": a flag it raised
    shadow: dict[str, Any] | None = None  # the challenger's answer in shadow mode, never acted on
    error: str = ""  # set when the model failed; the complaint then goes to manual triage
    # The threshold the decision used (the release's, else the version's tuned one, else the task's config):
    # flag tasks flag at or above it, other tasks send a confidence under it to manual triage.
    threshold: float | None = None


@dataclass(frozen=True)
class Allocation:
    """A row of ``complaints_allocation``: where a complaint went and exactly which models sent it there."""

    complaint_id: str
    queue: str
    status: str  # allocated | manual_triage
    reasons: list[str]
    predictions: dict[str, TaskPrediction]
    model_versions: dict[str, str]
    taxonomy_version: str
    batch_id: str
    allocated_at: str

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> "Allocation":
        row = dict(row)
        row["predictions"] = {task: TaskPrediction(**p) for task, p in row["predictions"].items()}
        return cls(**row)


@dataclass(frozen=True)
class Placement:
    """Where an allocated complaint stands now, as its ``complaints_allocation`` row keeps it: the allocation as the
    models made it, the queue analysts' corrections moved it to (the queue index lists it there), and its revision,
    how many corrections it has had, which every correction is conditional on."""

    allocation: Allocation
    queue: str
    revision: int = 0

    @property
    def corrected(self) -> bool:
        return self.revision > 0


@dataclass(frozen=True)
class ModelStrategy:
    """A row of ``model_strategy``: how a task's versions are served, and what a rollback restores."""

    task: str
    champion: str
    mode: str = "champion_only"
    challenger: str | None = None
    canary_percent: int = 0
    previous_champion: str | None = None
    threshold: float | None = None  # the decision threshold served with (release manifest); None: the task's or model's
    revision: int = 0  # optimistic concurrency: a write must name the revision it read
    updated_at: str = field(default_factory=utc_now)
    updated_by: str = "system"


@dataclass(frozen=True)
class ModelInfo:
    """A row of ``model_info``: an immutable registered version and what is known about it."""

    task: str
    version: str
    kind: str
    registered_at: str
    metrics: dict[str, Any]
    training_data_sha256: str
    taxonomy_version: str
    uri: str


@dataclass(frozen=True)
class Feedback:
    """A row of ``feedback``: an analyst's correction, which becomes training data.

    Stored once per ``idempotency_key`` (scoped to its complaint): a resend under a stored key is the same
    correction when its request (:attr:`REQUEST`) is; ``previous_label`` and ``at`` are what the store saw
    when the first one arrived, so a replay that reads a newer state is still recognised."""

    REQUEST: ClassVar[tuple[str, ...]] = ("complaint_id", "task", "label", "analyst")

    complaint_id: str
    task: str
    label: str
    previous_label: str
    analyst: str
    at: str = field(default_factory=utc_now)
    idempotency_key: str = ""
    revision: int = 0  # the complaint's revision this correction made (its n-th); 0 in files from before revisions


@dataclass(frozen=True)
class RejectedRow:
    """A row of ``rejected_rows``: an input record that could not be triaged, with its reason."""

    batch_id: str
    row_number: int
    reason_code: str
    reason: str
    complaint_id: str
    record: str
    record_chars: int


@dataclass(frozen=True)
class TriageBatch:
    """A row of ``triage_batches``: the first run of the pipeline over one input, for auditors, and each later run
    of the same input (its batch id) in ``reruns``, oldest first, so no run's record is written over."""

    batch_id: str
    source: str
    source_sha256: str
    started_at: str
    finished_at: str
    counts: dict[str, Any]
    model_versions: dict[str, Any]
    reruns: list[dict[str, Any]] = field(default_factory=list)  # each: source, started_at, finished_at, counts, ...

    def run(self) -> dict[str, Any]:
        """This run, as a later run is kept in the first's ``reruns``."""
        return {k: v for k, v in as_dict(self).items() if k not in ("batch_id", "source_sha256", "reruns")}


SERVING_ACTIONS = ("promote", "canary", "shadow", "rollback", "release")  # audit actions that change what serves


@dataclass(frozen=True)
class AuditEvent:
    """A row of ``audit_log``: who changed what (registrations, strategy changes, reallocations). The event id
    is its idempotency key: a resend under a stored id is the same event when its request (:attr:`REQUEST`)
    is, whenever it was sent."""

    REQUEST: ClassVar[tuple[str, ...]] = ("event_id", "actor", "action", "subject", "details")

    event_id: str
    at: str
    actor: str
    action: str
    subject: str
    details: dict[str, Any]

    @property
    def log(self) -> str:
        """The part of the log it is listed in: changes of what serves apart, so that an audit chain finds them
        without reading every correction ever made."""
        return "serving" if self.action in SERVING_ACTIONS else "audit"


@dataclass(frozen=True)
class GateDecision:
    """A row of ``gate_decisions``: the champion/challenger gate's verdict on one challenger against one
    champion, on the same complaints. Written once; a version's own artifacts never change, so the verdict
    lives here, beside its ``model_info``."""

    task: str
    challenger: str
    champion: str
    decision: str  # promote | no_difference | reject
    reasons: list[str]
    metrics: dict[str, Any]  # both versions' metrics with CIs, the paired test, per-class changes
    decided_at: str
    report_sha256: str  # of the Markdown report the pull request carries
    actor: str


@dataclass(frozen=True)
class ReleaseRecord:
    """A row of ``releases``: one application of a release manifest to an environment (a deployment)."""

    environment: str
    release_id: str  # the manifest's sha256: applying the same manifest again finds this record
    git_commit: str
    manifest_path: str
    tasks: dict[str, dict[str, Any]]  # task -> {champion, challenger, mode, canary_percent, threshold}
    applied_at: str
    actor: str
    run_url: str = ""


@dataclass(frozen=True)
class ApiUser:
    """A row of ``users``: who may call the ops API, in which role (``complaints.access``) and, for an analyst,
    for which team. Only the sha256 of the user's token is kept; a new token replaces the row. On AWS the user is
    also bound to one Cognito user by its ``sub``, which a re-created Cognito user of the same name never has."""

    name: str
    role: str  # analyst | specialist | triage_lead | auditor
    team: str | None
    token_sha256: str
    created_at: str
    created_by: str
    disabled_at: str | None = None  # set by `complaints users disable`: every call of the user is refused
    disabled_by: str | None = None
    cognito_sub: str | None = None  # its Cognito user (`users add --cognito-sub`); None: refused on AWS


@dataclass(frozen=True)
class Explanation:
    """A row of ``explanations``: word attributions of one task's label for one complaint, computed on request
    from exactly the model version its allocation records, and kept: written once per (complaint, task, version)."""

    complaint_id: str
    task: str
    version: str
    kind: str  # the model kind of that version
    explainer: str  # the SHAP explainer that computed it
    settings: dict[str, Any]  # the explainer's settings (max_evals, masker ...)
    payload: dict[str, Any]  # what the explainer returned: label, score, base value, tokens, top words
    requested_by: str
    requested_at: str


def as_dict(record: Any) -> dict[str, Any]:
    return dataclasses.asdict(record)


def request_of(record: Feedback | AuditEvent) -> dict[str, Any]:
    """What a client sent in ``record``: two writes under one idempotency key are the same write when this is."""
    return {name: getattr(record, name) for name in record.REQUEST}
