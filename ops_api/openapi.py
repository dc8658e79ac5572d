"""The committed OpenAPI 3.0 document, ``ops_api/openapi.json``: ``make openapi`` (``python -m ops_api.openapi``)
writes it again, validated as 3.0 by openapi-spec-validator, and a test fails when the code no longer produces it.

It is the document of the app's routes alone (``ops_api.app.routes_app``): no store, registry or models.
"""

import argparse
import json
from pathlib import Path
from typing import Any

from ops_api.app import routes_app
from ops_api.document import openapi_30

COMMITTED = Path(__file__).with_name("openapi.json")


def produced() -> dict[str, Any]:
    """The document the code describes now."""
    return openapi_30(routes_app())


def rendered(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    from openapi_spec_validator import validate  # a development dependency: the serving image has none

    parser = argparse.ArgumentParser(description="Write the ops API's OpenAPI 3.0 document.")
    parser.add_argument("output", nargs="?", type=Path, default=COMMITTED)
    args = parser.parse_args(argv)
    document = produced()
    validate(document)
    args.output.write_text(rendered(document), encoding="utf-8")
    print(f"wrote {args.output} (OpenAPI {document['openapi']}, {len(document['paths'])} paths)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
