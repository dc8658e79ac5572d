"""What the ops API sends and takes: the response and request bodies of ``ops_api/openapi.json``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def _example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


class Error(BaseModel):
    code: str = Field(description="not_authenticated, access_denied, not_found, method_not_allowed, invalid_request, "
                                  "body_too_large, conflict, stale, not_explainable, quota_exceeded, store_busy, store_unavailable, "
                                  "explanations_unavailable, explanations_busy, model_unavailable, internal_error")
    message: str = Field(description="why, naming fields and limits, never a value sent")


class ErrorResponse(BaseModel):
    model_config = _example({"error": {"code": "access_denied",
                                       "message": "a analyst of Mortgage may not read the queue 'Credit card'"}})
    error: Error


class QueueRef(BaseModel):
    model_config = _example({"id": "credit-card", "name": "Credit card", "count": 212})
    id: str = Field(description="the queue's id in URLs")
    name: str
    count: int = Field(description="complaints in the queue now, corrections applied")


class Me(BaseModel):
    model_config = _example({"name": "ana", "role": "analyst", "team": "Credit card", "team_queue_id": "credit-card",
                             "queues": ["Credit card", "Manual triage"]})
    name: str
    role: str = Field(description="analyst, specialist, triage_lead or auditor")
    team: str | None = Field(description="an analyst's team")
    team_queue_id: str | None = Field(description="the id of an analyst's team queue in URLs")
    queues: list[str] = Field(description="the queues this user may read")


class Prediction(BaseModel):
    label: str
    score: float
    version: str = Field(description="the model version that answered (content hash)")
    served_by: str = Field(description="champion or challenger; \"Customer record\" where the customer record raised a flag")
    error: str = Field(description="why the model failed; empty when it answered")


class ComplaintItem(BaseModel):
    complaint_id: str
    allocated_at: str
    queue: str = Field(description="where the complaint stands now, corrections applied")
    status: str = Field(description="allocated or manual_triage, as the models decided")
    corrected: bool
    predictions: dict[str, Prediction]


class QueuePage(BaseModel):
    queue: QueueRef
    sort: str
    offset: int
    limit: int
    items: list[ComplaintItem]


class Correction(BaseModel):
    task: str
    label: str
    previous_label: str
    analyst: str = Field(description="the authenticated user who made it")
    at: str
    idempotency_key: str = Field(description="as stored: a hash of the user and the key the client sent, or one "
                                             "derived from the request")
    revision: int = Field(description="the complaint's revision this correction made (its n-th correction)")


class AllocationView(BaseModel):
    queue: str = Field(description="the queue the models sent it to")
    status: str
    reasons: list[str]
    allocated_at: str
    batch_id: str
    taxonomy_version: str
    predictions: dict[str, Prediction]


class ExplanationRef(BaseModel):
    task: str
    version: str
    requested_at: str


class ComplaintDetail(BaseModel):
    model_config = _example({
        "complaint_id": "4120785", "date_received": "2021-02-14", "narrative": "I called [NAME] about my card ...",
        "attributes": {"Product": "Credit card", "State": "TX"}, "queue": "Credit card",
        "allocation": {"queue": "Credit card", "status": "allocated", "reasons": [],
                       "allocated_at": "2026-11-29T08:00:00.000+00:00", "batch_id": "b-1", "taxonomy_version": "2026.11.1",
                       "predictions": {"team": {"label": "Credit card", "score": 0.93, "version": "0123456789abcdef",
                                                "served_by": "champion", "error": ""}}},
        "revision": 0, "corrections": [], "explanations": []})
    complaint_id: str
    date_received: str
    narrative: str = Field(description="redacted at intake")
    attributes: dict[str, str]
    queue: str = Field(description="where the complaint stands now, corrections applied")
    allocation: AllocationView
    revision: int = Field(description="how many corrections it has had: a reassignment's `expected_revision`")
    corrections: list[Correction]
    explanations: list[ExplanationRef]


class Reassignment(BaseModel):
    # Any other field is refused, never ignored: who corrected, when and the revision are the server's, and a
    # client that sent them must not believe it set them.
    model_config = ConfigDict(extra="forbid", **_example({"task": "team", "label": "Mortgage", "expected_revision": 0}))
    task: str = Field(description="team, issue or vulnerable (the configured tasks)", max_length=64)
    label: str = Field(description="the correct label; for the vulnerable flag: yes or no", max_length=200)
    expected_revision: int = Field(ge=0, le=1_000_000, description="the complaint's `revision` as the user read it: "
                                   "if another correction came since, the reassignment is refused (409) and "
                                   "nothing is stored")


class ReassignmentResult(BaseModel):
    correction: Correction
    already_stored: bool = Field(description="a resend: nothing was stored again")
    queue: QueueRef | None = Field(description="where the complaint stands now; on a resend, only if the user may "
                                               "still read that queue")


class ExplanationView(BaseModel):
    complaint_id: str
    task: str
    version: str = Field(description="the version the allocation records, which computed this")
    kind: str
    explainer: str
    settings: dict[str, Any]
    payload: dict[str, Any] = Field(description="label, score, base_value, tokens with attributions, top_for, "
                                                "top_against, shap_version")
    requested_by: str
    requested_at: str


class Summary(BaseModel):
    model_config = _example({"since": "2026-11-28T08:00:00.000+00:00", "until": "2026-11-29T08:00:00.000+00:00",
                             "allocated": 2256, "by_queue": {"Credit card": 212, "Manual triage": 640},
                             "manual_triage": 640, "manual_triage_share": 0.2837, "corrections": 3,
                             "corrections_by_task": {"team": 3}, "moved": 2})
    since: str
    until: str
    allocated: int
    by_queue: dict[str, int] = Field(description="complaints allocated per queue, as the models sent them")
    manual_triage: int
    manual_triage_share: float
    corrections: int = Field(description="corrections of the complaints allocated in the window, whenever made")
    corrections_by_task: dict[str, int]
    moved: int = Field(description="complaints a correction moved to another queue")


class TaskWeek(BaseModel):
    allocated: int = Field(description="complaints whose answer for this task the models acted on (allocated, not "
                                       "left for the team to name, not the customer record's flag)")
    corrections: int = Field(description="of those, the ones an analyst corrected to another label")
    correction_rate: float
    estimated_accuracy: float | None = Field(description="the share no analyst corrected: an upper bound on live "
                                                         "accuracy (analysts correct what they look at); null "
                                                         "without allocations")
    ci95: list[float] | None = Field(min_length=2, max_length=2,
                                     description="its Wilson 95% interval, [low, high]; null without allocations")


class HealthWeek(BaseModel):
    week: str = Field(description="the ISO week the complaints were allocated in")
    complaints: int
    manual_triage_share: float
    specialist_share: float = Field(description="the share standing in the specialist queue now, analysts' flags "
                                                "included")
    specialist_capacity: float = Field(description="the most the specialist queue can take (operations.yaml)")
    tasks: dict[str, TaskWeek]


class ScoreDistribution(BaseModel):
    bins: list[float] = Field(description="the score bins' edges")
    reference: list[float] = Field(description="each bin's share on the version's held-out split")
    live: list[float] = Field(description="each bin's share of the window's answers")


class LabelDistribution(BaseModel):
    bins: list[str] = Field(description="the labels, the rare ones pooled")
    reference: list[float] = Field(description="each label's share on the version's held-out split")
    live: list[float] = Field(description="each label's share of the window's answers")


class Distributions(BaseModel):
    score: ScoreDistribution
    label: LabelDistribution


class CriticalPsi(BaseModel):
    score: float | None
    label: float | None


class TaskDrift(BaseModel):
    test: Literal["PSI"]
    score_psi: float | None = Field(description="population stability index of the scores; null without answers "
                                                "or reference")
    label_psi: float | None
    status: Literal["stable", "moderate", "drifted", "no reference", "unavailable"] = Field(
        description="the worse of the two: moderate from 0.1, drifted from 0.25, and only beyond what sampling "
                    "noise alone reaches; unavailable where the registry cannot give the version (missing, "
                    "modified)")
    reference: str = Field(description="what the live answers are compared with")
    complaints: int = Field(description="the version's answers in the window")
    critical_psi: CriticalPsi | None = Field(description="what sampling noise alone reaches 1 time in 1,000")
    distributions: Distributions | None = Field(description="score and label shares, for a chart")


class EmergingIssue(BaseModel):
    issue: str
    corrections: int = Field(description="corrections that named it")
    served_share: float = Field(description="the share of complaints the serving issue model gives it")
    in_taxonomy: bool
    training_share: float | None = Field(description="its share of the serving version's training examples; null "
                                                     "when the version records none")


class ModelHealth(BaseModel):
    model_config = _example({
        "generated_at": "2026-11-29T08:00:00+00:00", "since_days": 28, "verdict": "watch",
        "reasons": ["manual triage share rose to [0.41, 0.47] in 2026-W48 from [0.3, 0.34] before (95% intervals)"],
        "weeks": [{"week": "2026-W48", "complaints": 2256, "manual_triage_share": 0.44, "specialist_share": 0.16,
                   "specialist_capacity": 0.3,
                   "tasks": {"team": {"allocated": 1263, "corrections": 88, "correction_rate": 0.0697,
                                      "estimated_accuracy": 0.9303, "ci95": [0.9152, 0.9428]}}}],
        "drift": {"team": {"test": "PSI", "score_psi": 0.012, "label_psi": 0.02, "status": "stable",
                           "reference": "held-out split of 9024cc7107c20468 (3477 complaints)", "complaints": 1263,
                           "critical_psi": {"score": 0.021, "label": 0.03}, "distributions": None}},
        "emerging_issues": [], "versions": {"team": "9024cc7107c20468"}})
    generated_at: str
    since_days: int
    verdict: Literal["healthy", "watch", "retrain"] = Field(description="retrain: drift, accuracy falling where the "
                                                                        "answers moved, or an emerging issue; watch: "
                                                                        "a moderate shift or a figure moving alone")
    reasons: list[str]
    weeks: list[HealthWeek] = Field(description="every ISO week the window touches, oldest first")
    drift: dict[str, TaskDrift] = Field(description="each serving version's answers against its held-out reference")
    emerging_issues: list[EmergingIssue] = Field(description="issues analysts name that the serving model rarely "
                                                             "gives, or the taxonomy lacks")
    versions: dict[str, str] = Field(description="each task's serving champion")
