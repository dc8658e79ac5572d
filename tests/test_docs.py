"""The docs name only what exists. In the README, docs/ and the package READMEs written with them, every
`complaints` subcommand, make target and repository path named in backticks exists, every relative link (and
its anchor) resolves, and the design's data model lists exactly the store's tables. A doc that disagrees with
the code is the one that is wrong; this finds the cases a reader would trip on first."""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path

import pytest

from complaints.store.tables import TABLES
from console.main import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
               *(ROOT / folder / "README.md" for folder in ("complaints", "model", "tools", "testing"))])
FENCED = re.compile(r"^```.*?^```", flags=re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
GLOBAL_OPTION = re.compile(r"\[?--(env|home|tasks) \S+\]?\s*")
NOT_A_PATH = re.compile(r"[\s<>{}*|]|\.\.\.")


def prose(doc: Path) -> str:
    """The doc without its fenced blocks, which hold shell sessions and diagrams, not names to check."""
    return FENCED.sub("", doc.read_text(encoding="utf-8"))


def named(command: str) -> list[tuple[str, str]]:
    """(doc, name) for every backticked span running ``command`` with a name first (after the global options):
    `complaints --env ENV audit ID` names audit, `make retrain ENV=prod` retrain; `make help`'s --help does not."""
    found = []
    for doc in DOCS:
        for span in CODE.findall(prose(doc)):
            if not span.startswith(f"{command} "):
                continue
            words = GLOBAL_OPTION.sub("", span.removeprefix(f"{command} ")).split()
            if words and re.fullmatch(r"[a-z][a-z0-9-]*", words[0]):
                found.append((doc.relative_to(ROOT).as_posix(), words[0]))
    return found


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    return {slug(heading) for heading in re.findall(r"^#+ (.+)$", prose(doc), flags=re.MULTILINE)}


def top_level_names() -> set[str]:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return {path.split("/")[0] for path in tracked}


def test_every_complaints_subcommand_named_exists():
    commands = {name for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)
                for name in action.choices}
    unknown = [(doc, name) for doc, name in named("complaints") if name not in commands]
    assert not unknown, f"`complaints` subcommands that do not exist: {unknown}"
    assert named("complaints"), "the docs name no subcommand: the pattern no longer matches them"


def test_every_make_target_named_exists():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):(?!=)", makefile, flags=re.MULTILINE))
    readme = prose(ROOT / "README.md").split("## Make targets", 1)[1].split("\n## ", 1)[0]
    listed = [("README.md", name) for name in CODE.findall(readme) if re.fullmatch(r"[a-z][a-z0-9-]*", name)]
    unknown = [(doc, name) for doc, name in named("make") + listed if name not in targets]
    assert not unknown, f"make targets that do not exist: {unknown}"
    assert named("make"), "the docs name no make target: the pattern no longer matches them"


def test_every_repository_path_named_exists():
    roots = top_level_names()
    missing = []
    for doc in DOCS:
        for span in CODE.findall(prose(doc)):
            path = span.split("::")[0].rstrip("/")
            if NOT_A_PATH.search(path) or path.split("/")[0] not in roots:
                continue
            if not (ROOT / path).exists():
                missing.append((doc.relative_to(ROOT).as_posix(), span))
    assert not missing, f"paths named that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.relative_to(ROOT).as_posix())
def test_every_relative_link_and_anchor_resolves(doc):
    broken = []
    for target in LINK.findall(prose(doc)):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (doc.parent / path).resolve() if path else doc
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(target)
    assert not broken, f"links that lead nowhere: {broken}"


def test_the_design_data_model_lists_exactly_the_store_tables():
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = design.split("## 3. Data model", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))
    assert listed == set(TABLES), f"described, not declared: {listed - set(TABLES)}; " \
                                  f"declared, not described: {set(TABLES) - listed}"
