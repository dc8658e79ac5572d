"""A fake GitHub CLI for the tools that call `gh api` (tools/github_rules.py, tools/github_deployment.py): an
executable ``gh`` in a folder to put first on the PATH. It records each call (its arguments and the body it was
given on stdin) as a JSON line, and answers from a table written by the test: a read (no ``--method``, or GET)
by its path, with the text gh would print (after ``--jq``, where the caller passes one); a write with ``{}``. A
read the table lacks fails as gh does on a 404."""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCRIPT = """#!{python}
import json, sys
args = sys.argv[1:]
method = args[args.index("--method") + 1] if "--method" in args else "GET"
path = next(arg for index, arg in enumerate(args[1:], 1)
            if not arg.startswith("-") and args[index - 1] not in ("--method", "--jq", "--input"))
body = sys.stdin.read() if "--input" in args else None
with open({log!r}, "a") as log:
    log.write(json.dumps({{"args": args, "method": method, "path": path, "body": body}}) + "\\n")
if method != "GET":
    print("{{}}")
    sys.exit(0)
answers = json.load(open({answers!r}))
if path not in answers:
    print(f"gh: Not Found (HTTP 404) {{path}}", file=sys.stderr)
    sys.exit(1)
sys.stdout.write(answers[path] + ("\\n" if answers[path] else ""))  # gh prints nothing for no result
"""


class FakeGh:
    def __init__(self, folder: Path, answers: dict[str, str]):
        self.bin = folder / "bin"
        self.bin.mkdir(parents=True)
        self.log = folder / "gh-calls.jsonl"
        (folder / "answers.json").write_text(json.dumps(answers), encoding="utf-8")
        gh = self.bin / "gh"
        gh.write_text(SCRIPT.format(python=sys.executable, log=str(self.log), answers=str(folder / "answers.json")),
                      encoding="utf-8")
        gh.chmod(0o755)

    def calls(self) -> list[dict]:
        """Each call in order: args, method, path and the body parsed (None where there was none)."""
        if not self.log.exists():
            return []
        calls = [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]
        return [{**call, "body": None if call["body"] is None else json.loads(call["body"])} for call in calls]

    def path(self, environ: dict[str, str]) -> dict[str, str]:
        """``environ`` with this fake first on its PATH."""
        return {**environ, "PATH": f"{self.bin}:{environ.get('PATH', '')}"}
