"""MegaBank's taxonomy: CFPB product and issue names of every era mapped to teams and canonical issues.

The mapping lives in a reviewed data file (``config/taxonomy.yaml``); this module only reads it. Labels
it does not know are never guessed: lookups return ``None`` and callers report them with counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml


class TaxonomyError(ValueError):
    """The taxonomy file is inconsistent; it must be fixed before anything runs on it."""


@dataclass(frozen=True)
class Taxonomy:
    version: str
    teams: tuple[str, ...]
    vulnerable_tags: tuple[str, ...]
    products: dict[str, dict]
    issues: dict[str, dict]

    @classmethod
    def load(cls, path: Path) -> "Taxonomy":
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        taxonomy = cls(
            version=str(doc["version"]),
            teams=tuple(doc["teams"]),
            vulnerable_tags=tuple(doc["vulnerable_tags"]),
            products=dict(doc["products"]),
            issues=dict(doc["issues"]),
        )
        taxonomy._check()
        return taxonomy

    def _check(self) -> None:
        problems = []
        for product, entry in self.products.items():
            for team in [entry["team"], *entry.get("by_sub_product", {}).values()]:
                if team not in self.teams:
                    problems.append(f"product {product!r} maps to unknown team {team!r}")
        canonical = self.canonical_issues
        for issue, entry in self.issues.items():
            for target in [entry["canonical"], *entry.get("by_sub_issue", {}).values()]:
                if target not in canonical:
                    problems.append(f"issue {issue!r} maps to {target!r}, which is not a canonical issue")
        if problems:
            raise TaxonomyError("taxonomy is inconsistent:\n  " + "\n  ".join(problems))

    @property
    def canonical_issues(self) -> tuple[str, ...]:
        """Canonical issues are the fixed points of the mapping: current CFPB names."""
        return tuple(sorted(name for name, entry in self.issues.items() if entry["canonical"] == name))

    def team(self, product: str, sub_product: str = "") -> str | None:
        entry = self.products.get(product.strip())
        if entry is None:
            return None
        return entry.get("by_sub_product", {}).get(sub_product.strip(), entry["team"])

    def issue(self, issue: str, sub_issue: str = "") -> str | None:
        entry = self.issues.get(issue.strip())
        if entry is None:
            return None
        return entry.get("by_sub_issue", {}).get(sub_issue.strip(), entry["canonical"])

    def tags(self, tags: str) -> tuple[str, ...]:
        """Split a CFPB Tags value ("Older American, Servicemember") into its tags."""
        return tuple(tag.strip() for tag in tags.split(",") if tag.strip())

    def unknown_tags(self, tags: str) -> list[str]:
        return [tag for tag in self.tags(tags) if tag not in self.vulnerable_tags]

    def is_vulnerable(self, tags: str) -> bool:
        return any(tag in self.vulnerable_tags for tag in self.tags(tags))

    def unknown_labels(self, records: list[dict[str, str]]) -> dict[str, Counter[str]]:
        """Product and issue names the taxonomy does not map, with how often each occurs."""
        products = Counter(r.get("Product", "") for r in records if r.get("Product") and self.team(r["Product"]) is None)
        issues = Counter(r.get("Issue", "") for r in records if r.get("Issue") and self.issue(r["Issue"]) is None)
        return {"Product": products, "Issue": issues}
