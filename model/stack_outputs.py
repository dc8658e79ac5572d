"""A deployed environment's Terraform outputs, for the post-deploy steps (smoke test, ops app) that need them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path


def stack_outputs(stack: Path = Path("infra/stack")) -> dict[str, str]:
    """The stack's string outputs, where this checkout's infra/stack is initialised; {} where it is not."""
    terraform = shutil.which("terraform")
    if terraform is None:
        return {}
    run = subprocess.run([terraform, f"-chdir={stack}", "output", "-json"], capture_output=True, text=True,
                         timeout=120, check=False)
    if run.returncode != 0:
        return {}
    return {name: output["value"] for name, output in json.loads(run.stdout or "{}").items()
            if isinstance(output.get("value"), str)}
