"""The gate decision committed beside a release manifest: ``deploy/gate/<env>/<task>.json``, the gate's word
that one task's serving change may reach one environment. ``release apply`` applies a change of a task's line
(versions, mode, canary share, threshold) only with the decision that names it; the gate job of a pull request
makes the decision again with the base branch's code and rules and fails when the committed one is not it.

A decision names its change exactly (``from``: the line the environment serves, ``to``: the manifest's line),
the rules it was made under (``rules``: the gate's policy, the environment's rollout, the task's minimum and
target, the operation's deferral and specialist capacity, the sha256 of the gate's code), the sha256 of the
gate report it came with, and ``sha256``: the digest of all the rest as canonical JSON. A decision edited by
hand and not sealed again, or a manifest edited after its decision, no longer agrees with it. The digest is not
a signature: whoever can write the file can seal it again, which is why the pull request's gate job, run from
the base branch and required, is what binds.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

GATE_DIR = "gate"  # beside the manifests
PROMOTE = "promote"


def decision_path(deploy_dir: Path, environment: str, task: str) -> Path:
    return Path(deploy_dir) / GATE_DIR / environment / f"{task}.json"


def digest(document: dict) -> str:
    """The sha256 of the document without its own ``sha256``, as canonical JSON (sorted keys, no spaces)."""
    body = {key: value for key, value in document.items() if key != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def sealed(document: dict) -> dict:
    """The document as JSON reads it back (tuples as lists), with its digest."""
    plain = json.loads(json.dumps(document, default=str))
    return {**plain, "sha256": digest(plain)}


def write(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sealed(document), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read(path: Path) -> dict | None:
    """The committed decision, or None where there is none; unreadable JSON is refused by the caller's check."""
    if not Path(path).is_file():
        return None
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        return {"unreadable": f"{path} is not JSON: {error}"}
    return document if isinstance(document, dict) else {"unreadable": f"{path} is not a JSON object"}


def problems(document: dict | None, environment: str, task: str, before: dict | None, after: dict, rules: dict
             ) -> list[str]:
    """Why ``document`` does not admit ``task``'s change from ``before`` to ``after`` in ``environment`` under
    ``rules`` (lines and rules as JSON reads them); empty when it does."""
    if document is None:
        return ["no gate decision is committed for this change (deploy/gate/<env>/<task>.json): the gate makes it "
                "(complaints --env ENV retrain, or gate --decide) and the pull request carries it"]
    if "unreadable" in document:
        return [document["unreadable"]]
    found = []
    if document.get("sha256") != digest(document):
        found.append("its sha256 is not the digest of its contents: the decision was edited after the gate sealed it")
    if document.get("decision") != PROMOTE:
        found.append(f"the gate decided {document.get('decision')!r}, not {PROMOTE!r}: a version or line the gate "
                     f"turned away is never served")
    if (document.get("environment"), document.get("task")) != (environment, task):
        found.append(f"it decides {document.get('task')!r} in {document.get('environment')!r}, not {task!r} in "
                     f"{environment!r}")
    if document.get("from") != before:
        found.append(f"it admits a change from {document.get('from')}, but the environment serves {before}")
    if document.get("to") != after:
        found.append(f"it admits {document.get('to')}, but the manifest says {after}")
    changed = sorted(key for key in set(rules) | set(document.get("rules") or {})
                     if (document.get("rules") or {}).get(key) != rules.get(key))
    if changed:
        found.append(f"it was made under other rules than these ({', '.join(changed)} differ): a pull request "
                     f"changes the gate's rules or what serves, not both, and a decision holds for the rules "
                     f"in force")
    return found
