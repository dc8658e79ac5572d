"""Where the vulnerable-customer signal is (`make vulnerable-signal`): what tagged complaints say about age,
military service, benefits or care, how many say anything at all, and the champion's precision-recall
trade-off with the specialist queue's share at each point, so the business picks the point with numbers.

The CFPB tag is set by the person filing (the "Older American" / "Servicemember" boxes), not read from the
text, and the CFPB masks ages and dates in narratives ("XX/XX/XXXX"). Rows of all-tagged sources are
left out (complaints/provenance.py), as everywhere else.

    python -m tools.vulnerable_signal [--data PATH] [--output reports/vulnerable-signal.md]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from complaints.deployment import Deployment
from complaints.intake import read_batch
from complaints.predictors import load_predictor
from complaints.provenance import all_tagged_rows, default_provenance
from complaints.schema import POSITIVE, TAGS
from complaints.config import Settings, default_data_path
from complaints.splits import is_holdout
from complaints.strategy import champions

# Words a narrative uses when it says why its author is vulnerable; one pattern per kind of signal.
CUES = {
    "age": r"\b(elderly|senior citizen|seniors?|retired|retiree|retirement|my age|years old|aged? \d\d|"
           r"grand(mother|father|children|son|daughter)|widow(ed|er)?|older american|old age)\b",
    "military service": r"\b(veterans?|military|army|navy|air force|marines?|national guard|deploy(ed|ment)|"
                        r"active duty|service ?members?|scra|va loan|department of veterans|tricare|pcs orders?|"
                        r"stationed|overseas orders)\b",
    "benefits and fixed income": r"\b(social security|ssi|ssdi|disability|disabled|fixed income|pension|"
                                 r"medicare|medicaid)\b",
    "care and capacity": r"\b(caregiver|care ?giver|power of attorney|dementia|alzheimer'?s?|nursing home|"
                         r"assisted living|guardian(ship)?|hospice)\b",
}
PR_RECALLS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a CFPB export or a folder of them (default the shared data)")
    parser.add_argument("--home", help="where the champions are (env COMPLAINTS_HOME)")
    parser.add_argument("--output", type=Path, default=Path("reports/vulnerable-signal.md"))
    args = parser.parse_args(argv)
    data = args.data or default_data_path()
    deployment = Deployment.embedded(Settings.from_env(home=args.home))
    complaints = read_batch(data, deployment.taxonomy, redactor=deployment.redactor).complaints
    provenance = default_provenance(data)
    biased = all_tagged_rows(provenance, complaints) if provenance else set()
    kept = [c for c in complaints if c.complaint_id not in biased]
    result = {"complaints": len(kept), "left_out_all_tagged": len(biased), "cues": cue_table(kept)}
    version = champions(deployment, ["vulnerable"]).get("vulnerable")
    holdout = [c for c in kept if is_holdout(c.narrative)]
    predictor = load_predictor(deployment.registry.fetch("vulnerable", version))
    scores = predictor.predict_proba([c.narrative for c in holdout])[:, predictor.labels.index(POSITIVE)]
    result |= {"model_version": version, "holdout": len(holdout),
               "curve": pr_points(np.array([bool(c.get(TAGS)) for c in holdout]), scores)}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(markdown(result), encoding="utf-8")
    args.output.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(markdown(result))
    return 0


def cue_table(complaints: list) -> list[dict]:
    """Per kind of cue (and any): the share of Older American, Servicemember and untagged complaints that use
    it, and, as a rule "flag when it is used", its precision and recall for the tag."""
    patterns = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in CUES.items()}
    groups = {"Older American": [c for c in complaints if "Older American" in (c.get(TAGS) or "")],
              "Servicemember": [c for c in complaints if "Servicemember" in (c.get(TAGS) or "")],
              "untagged": [c for c in complaints if not c.get(TAGS)]}
    tagged = np.array([bool(c.get(TAGS)) for c in complaints])
    rows = []
    for name in [*patterns, "any"]:
        def uses(complaint, name=name) -> bool:
            found = patterns.values() if name == "any" else [patterns[name]]
            return any(p.search(complaint.narrative) for p in found)
        used = np.array([uses(c) for c in complaints])
        rows.append({"cue": name, **{group: round(float(np.mean([uses(c) for c in members])), 3) if members else None
                                     for group, members in groups.items()},
                     "rule_precision": round(float(tagged[used].mean()), 3) if used.any() else None,
                     "rule_recall": round(float(used[tagged].mean()), 3) if tagged.any() else None,
                     "rule_flag_rate": round(float(used.mean()), 3)})
    return rows


def pr_points(positive: np.ndarray, scores: np.ndarray) -> list[dict]:
    """At each recall, flagging from the highest score down: the threshold, precision and the specialist
    queue's share of volume if the models alone decided."""
    order = np.argsort(-scores, kind="mergesort")
    found = np.cumsum(positive[order])
    points = []
    for recall in PR_RECALLS:
        k = int(np.searchsorted(found, np.ceil(recall * positive.sum() - 1e-9))) + 1
        points.append({"recall": recall, "threshold": round(float(scores[order][k - 1]), 4),
                       "precision": round(float(found[k - 1] / k), 3), "specialist_share": round(k / len(scores), 3)})
    return points


def markdown(result: dict) -> str:
    lines = ["# The vulnerable-customer signal", "",
             f"{result['complaints']:,} complaints ({result['left_out_all_tagged']:,} of all-tagged sources left out).", "",
             "| cue | Older American | Servicemember | untagged | rule precision | rule recall | rule flag rate |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in result["cues"]:
        lines.append(f"| {row['cue']} | {row['Older American']} | {row['Servicemember']} | {row['untagged']} "
                     f"| {row['rule_precision']} | {row['rule_recall']} | {row['rule_flag_rate']} |")
    lines += ["", f"Champion `{result['model_version']}` on the {result['holdout']:,} held-out complaints:", "",
              "| recall | threshold | precision | specialist share (models alone) |", "| --- | --- | --- | --- |"]
    lines += [f"| {p['recall']:.2f} | {p['threshold']:.3f} | {p['precision']:.3f} | {p['specialist_share']:.3f} |"
              for p in result["curve"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
