"""Gate decisions sealed by hand, for the harnesses whose versions no gate scores: artifacts that are no model
(tests/test_registry.py), or a stack on moto serving whatever a registry holds (moto_stack.py, `make bench-load`).
`release apply` takes them as it takes the gate's, since the digest is no signature; in the repository the
required `gate` check stands against a decision the base branch's gate would not make (docs/lifecycle.md)."""

from __future__ import annotations

from dataclasses import asdict

from complaints.deployment import Deployment
from model import decision
from model.gate import policy_of, rules_of
from model.manifest import ReleaseManifest


def seal_first_release(deployment: Deployment, manifest: ReleaseManifest) -> None:
    """A promote decision beside ``manifest`` for each task's line as its first version, under the rules in force."""
    for task, line in manifest.tasks.items():
        decision.write(decision.decision_path(manifest.path.parent, manifest.environment, task), {
            "environment": manifest.environment, "task": task, "decision": decision.PROMOTE, "from": None,
            "to": asdict(line), "champion": "", "challenger": line.champion, "reasons": ["sealed by a test harness"],
            "metrics": {}, "report_sha256": "0" * 64, "decided_at": "2026-01-01T00:00:00+00:00", "actor": "harness",
            "rules": rules_of(deployment, deployment.task(task), policy_of(manifest.gate), manifest.rollout)})
