"""Test scaffolding: the AWS stack on moto, the Budibase harness, the fake Hub, the fake GitHub CLI, the store
contract and the labelled redaction cases. Never packaged; product code may not import it (pyproject.toml's contracts)."""

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
