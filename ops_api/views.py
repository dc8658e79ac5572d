"""The core's records as the API's bodies (``ops_api.schemas``)."""

from dataclasses import asdict

from complaints.records import Explanation, Feedback, TaskPrediction
from ops_api.schemas import Correction, ExplanationView, Prediction


def predictions(by_task: dict[str, TaskPrediction]) -> dict[str, Prediction]:
    return {task: Prediction(label=p.label, score=p.score, version=p.model_version, served_by=p.served_by,
                             error=p.error) for task, p in by_task.items()}


def correction(feedback: Feedback) -> Correction:
    return Correction(task=feedback.task, label=feedback.label, previous_label=feedback.previous_label,
                      analyst=feedback.analyst, at=feedback.at, idempotency_key=feedback.idempotency_key,
                      revision=feedback.revision)


def explanation_view(made: Explanation) -> ExplanationView:
    return ExplanationView(**asdict(made))
