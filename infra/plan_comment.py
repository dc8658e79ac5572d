"""A Terraform plan as a pull request comment: `make plan-comment ENV=prod PLAN=plan.txt` -> build/plan/prod.md.

PLAN is what `terraform show -no-color <planfile>` printed (colour codes are stripped anyway). The comment
names the environment, repeats the plan's summary line ("Plan: N to add, M to change, K to destroy." or
"No changes."), and holds the plan in a diff block, cut at a line so the whole comment stays under
LIMIT characters (GitHub refuses comments over 65,536); a cut plan says so and points to the run
(RUN_URL, else the GitHub Actions run of GITHUB_SERVER_URL/GITHUB_REPOSITORY/GITHUB_RUN_ID) whose log
and artifacts hold the whole plan. Standard library only: the plan job needs no virtual environment.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

GITHUB_LIMIT = 65_536
LIMIT = 60_000  # a margin under GitHub's limit, for anything a workflow adds around the comment

# CSI sequences (colours, cursor moves) and OSC sequences (titles, hyperlinks), as a terminal would eat them
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_SUMMARY = re.compile(r"^(Plan: .*to destroy\.|No changes\..*)$", re.MULTILINE)
_DESTROY = re.compile(r"(\d+) to destroy\.")
_MARKER = re.compile(r"^(\s*)([-+~])")  # "  + resource", "  ~ attr", "-/+ resource": the change marker


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def summary(plan: str) -> str:
    """The plan's own summary line; the last one, as `terraform show` ends with it."""
    found = _SUMMARY.findall(plan)
    if found:
        return found[-1].strip()
    if "Changes to Outputs:" in plan:
        return "Only output values change."
    return "No summary line in the plan: read it whole before applying."


def as_diff(plan: str) -> str:
    """Move each change marker to the start of its line, so GitHub's diff highlighting colours it: + added,
    - destroyed, ! (was ~) changed in place."""
    def marker(match: re.Match) -> str:
        return ("!" if match.group(2) == "~" else match.group(2)) + match.group(1)

    return "\n".join(_MARKER.sub(marker, line, count=1) for line in plan.splitlines())


def run_url() -> str:
    if os.environ.get("RUN_URL"):
        return os.environ["RUN_URL"]
    parts = [os.environ.get(name, "") for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    return f"{parts[0]}/{parts[1]}/actions/runs/{parts[2]}" if all(parts) else ""


def comment(environment: str, plan: str, url: str = "", limit: int = LIMIT) -> str:
    """The Markdown comment, at most ``limit`` characters."""
    plan = strip_ansi(plan).replace("\r\n", "\n").strip("\n")
    line = summary(plan)
    head = [f"<!-- complaints-plan:{environment} -->", f"### Terraform plan: `{environment}`", "", f"**{line}**"]
    destroyed = _DESTROY.search(line)
    if destroyed and int(destroyed.group(1)) > 0:
        head.append(f"\n> [!WARNING]\n> This plan destroys {destroyed.group(1)} resource(s): read each `-` below.")
    body = as_diff(plan)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)  # a fence no line of the plan can close
    where = f": {url}" if url else " (this workflow run)"
    lines = body.split("\n")

    def render(kept: int) -> str:
        shown = "\n".join(lines[:kept])
        parts = head + ["", f"{fence}diff", shown, fence]
        if kept < len(lines):
            parts += ["", f"**truncated: {kept:,} of {len(lines):,} lines shown. The full plan is in the run's "
                          f"artifacts/log{where}**"]
        return "\n".join(parts) + "\n"

    if len(whole := render(len(lines))) <= limit:
        return whole
    budget = limit - len(render(0))
    if budget < 0:
        raise ValueError(f"a limit of {limit} characters leaves no room for the plan")
    kept, used = 0, 0  # whole lines, while they fit beside the header, the fence and the note
    while kept < len(lines) and used + len(lines[kept]) + 1 <= budget:
        used += len(lines[kept]) + 1
        kept += 1
    while len(text := render(kept)) > limit:  # the note's line counts grew by a digit or two
        kept -= 1
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, help="the environment planned (dev, prod)")
    parser.add_argument("--plan", required=True, type=Path, help="terraform show -no-color output")
    parser.add_argument("--out", type=Path, help="default build/plan/<env>.md")
    parser.add_argument("--limit", type=int, default=LIMIT, help=f"most characters (default {LIMIT})")
    args = parser.parse_args(argv)
    if not 0 < args.limit <= GITHUB_LIMIT:
        parser.error(f"--limit must be between 1 and {GITHUB_LIMIT}")
    if not args.plan.is_file():
        parser.error(f"no plan at {args.plan}: PLAN is the text of `terraform show -no-color <planfile>`")
    out = args.out or Path("build/plan") / f"{args.env}.md"
    plan = args.plan.read_text(encoding="utf-8", errors="replace")
    text = comment(args.env, plan, run_url(), args.limit)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"{out}: {len(text):,} characters. {summary(strip_ansi(plan))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
