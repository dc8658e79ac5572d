"""The design holds in the code: imports only point down (import-linter contracts in pyproject.toml), and
the README's layout table names every top-level folder and package of the tree."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_imports_only_point_down_and_serving_never_imports_training_libraries():
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_the_readme_layout_names_every_top_level_folder():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = {name.strip("/") for name in re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)}
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    folders = {path.split("/")[0] for path in tracked if "/" in path and not path.startswith(".")}
    folders |= {"/".join(path.split("/")[:2]) for path in tracked if path.startswith(".github/")}
    assert folders <= listed, f"folders missing from the README layout: {sorted(folders - listed)}"
    assert all((ROOT / name).exists() for name in listed), "the README layout names a folder that does not exist"
