"""No personal data leaves intake: distinctive PII in every column of every input format (and in headerless,
malformed and wrong-column files, and in over-long or PII-shaped ids) goes through the embedded CLI and the
deployed state machine, and nothing the system wrote holds any of it: not the store, the logs, the CLI's
output, Step Functions' executions and their history, the dead-letter queue, the chunks, the DynamoDB
tables or the HTTP intake's answers. Only the files as the sender wrote them (the inbox) hold it.

Each value is one the redaction finds (testing/pii_cases.py measures recall in general); redaction runs only
through intake here, as in production.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import sqlite3
from pathlib import Path

import pytest

from complaints.intake import read_batch
from complaints.schema import API_FIELD_NAMES, COMPLAINT_ID, NARRATIVE
from complaints.config import CONFIG_DIR
from complaints.taxonomy import Taxonomy
from conftest import sample
from testing.moto_stack import BUCKET, Stack
from test_aws_state_machine import stack  # noqa: F401 - the fixture the state machine test runs on

# What a sender might put anywhere, each with the cue the redaction needs, and the raw strings to search for.
PII_TEXT = ("my name is Zebediah Quarrington, SSN 512-38-4721, email ottoline.vexby@example.org, phone (415) "
            "867-5309, card 4539 1488 0343 6467, account number 77125839, I live at 4821 Quillfeather Lane, "
            "DOB 03/14/1987, IP 203.0.113.77, driver's license W4829173, password: Quokka!Nine, instagram "
            "@quarrington_z87")
NEEDLES = ["Zebediah", "Quarrington", "512-38-4721", "ottoline.vexby", "867-5309", "4539 1488 0343 6467",
           "4539148803436467", "77125839", "Quillfeather", "03/14/1987", "203.0.113.77", "W4829173", "Quokka!Nine",
           "quarrington_z87"]
# Ids made of PII: over the length limit, or within the id rule's characters but shaped as personal data.
PII_IDS = ["512-38-4721" * 8, "203.0.113.77", "512-38-4721", "415-867-5309", "4539148803436467"]
EXPORT_NAMES = {v: k for k, v in API_FIELD_NAMES.items()}


def _rows(base: dict[str, str], tag: str) -> list[dict[str, str]]:
    """A row per column with PII in that column, a row with PII in every column, rows with PII ids, and a
    row with PII as a column's name."""
    columns = list(base) + ["ZIP code"]
    rows = [dict(base, **{COMPLAINT_ID: f"{tag}-{n}", column: PII_TEXT}) for n, column in enumerate(columns)]
    rows[columns.index(COMPLAINT_ID)][COMPLAINT_ID] = PII_TEXT
    rows.append({column: PII_TEXT for column in columns})
    rows += [dict(base, **{COMPLAINT_ID: pii_id}) for pii_id in PII_IDS]
    rows.append(dict(base, **{COMPLAINT_ID: f"{tag}-named", PII_TEXT: "a column named after a person"}))
    return rows


def _csv(rows: list[dict[str, str]]) -> str:
    columns = list(dict.fromkeys(column for row in rows for column in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _jsonl(rows: list[dict[str, str]], names: dict[str, str] | None = None) -> str:
    return "".join(json.dumps({(names or {}).get(k, k): v for k, v in row.items()}) + "\n" for row in rows)


def batch_files(base: dict[str, str], folder: Path) -> dict[str, Path]:
    """Every input format with PII everywhere, and the files intake must refuse or half-read."""
    texts = {
        "every-column.csv": _csv(_rows(base, "csv")),
        "every-column.jsonl": _jsonl(_rows(base, "jsonl")),
        "api-names.jsonl": _jsonl(_rows(base, "api"), EXPORT_NAMES),
        "headerless.csv": "\r\n".join([",".join([PII_TEXT.replace(",", ";")] * 3)] * 2) + "\r\n",
        "wrong-columns.csv": _csv([{COMPLAINT_ID: "wrong-1", "Other": PII_TEXT}]),
        "pii-header.csv": _csv([{PII_TEXT: PII_TEXT, "Also " + PII_TEXT: "x"}]),
        "malformed.csv": _csv([dict(base, **{COMPLAINT_ID: "malformed-1"})]) + f'{PII_TEXT},1,2\r\n"{PII_TEXT}\r\n',
        "malformed.jsonl": "\n".join([PII_TEXT, "{" + PII_TEXT, json.dumps([PII_TEXT]),
                                      json.dumps({**{c: PII_TEXT for c in base}, "nested": {PII_TEXT: PII_TEXT}}),
                                      json.dumps({"complaint_id": PII_TEXT}), '{"x": 1' + "9" * 5000 + " " + PII_TEXT]),
    }
    files = {}
    for name, text in texts.items():
        files[name] = folder / name
        files[name].write_text(text, encoding="utf-8")
    files["every-column.csv.gz"] = folder / "every-column.csv.gz"
    files["every-column.csv.gz"].write_bytes(gzip.compress(_csv(_rows(base, "csvgz")).encode("utf-8")))
    from datasets import Dataset  # the train extra

    rows = _rows(base, "hf")
    columns = list(dict.fromkeys(column for row in rows for column in row))
    files["dataset"] = folder / "dataset"
    Dataset.from_list([{column: row.get(column, "") for column in columns} for row in rows]).save_to_disk(files["dataset"])
    files["truncated.jsonl.gz"] = folder / "truncated.jsonl.gz"
    files["truncated.jsonl.gz"].write_bytes(gzip.compress(_jsonl(_rows(base, "gz")).encode("utf-8"))[:-40])
    return files


def assert_no_pii(text: str, where: str) -> None:
    found = [needle for needle in NEEDLES if needle in text]
    assert not found, f"{found} leaked into {where}: ...{_around(text, found[0])}..."


def _around(text: str, needle: str) -> str:
    at = text.index(needle)
    return text[max(0, at - 120):at + 120]


@pytest.fixture
def base(cfpb_rows) -> dict[str, str]:
    """A real complaint every row starts from, with no PII of its own."""
    row = dict(sample(cfpb_rows, 1, salt="pii-leaks")[0])
    assert not any(needle in json.dumps(row) for needle in NEEDLES)
    return row


@pytest.fixture
def taxonomy():
    return Taxonomy.load(CONFIG_DIR / "taxonomy.yaml")


def test_the_values_are_ones_the_redaction_finds_so_a_hit_is_a_leak(base, tmp_path, taxonomy):
    batch = read_batch(batch_files(base, tmp_path)["every-column.csv"], taxonomy)
    narrative = next(c.narrative for c in batch.complaints if c.complaint_id == f"csv-{list(base).index(NARRATIVE)}")
    kinds = ["NAME", "SSN", "EMAIL", "PHONE", "CARD", "ACCOUNT", "ADDRESS", "DOB", "IP", "ID", "CREDENTIAL", "HANDLE"]
    assert all(f"[{kind}]" in narrative for kind in kinds), narrative
    assert {r.reason_code for r in batch.rejections} >= {"bad_complaint_id", "bad_date", "unknown_product"}
    assert sum(r.reason_code == "bad_complaint_id" for r in batch.rejections) == len(PII_IDS) + 2


def _sqlite_text(home: Path, name: str) -> str:
    """Every row of every table of a SQLite file under the home, and its files' raw bytes (free pages, the WAL)."""
    with sqlite3.connect(home / name) as connection:
        dump = "\n".join(connection.iterdump())
    raw = b"".join(path.read_bytes() for path in home.glob(f"{name}*"))
    return dump + raw.decode("utf-8", "replace")


def test_nothing_the_embedded_cli_writes_holds_personal_data(cli, home, base, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="complaints")
    written = []
    for name, path in batch_files(base, tmp_path).items():
        code, out, err = cli("--verbose", "triage", "--data", str(path), "--json")
        written.append((f"`complaints triage` of {name} (exit {code})", out + err))
    code, out, err = cli("triage", "--text", PII_TEXT)
    written.append(("`complaints triage --text`", out + err))
    for queue in ("Manual triage", "Vulnerable customers"):
        written.append((f"`complaints queue {queue}`", "".join(cli("queue", queue, "--limit", "500", "--json")[1:])))

    rows = sum(json.loads(text.strip().splitlines()[-1])["rows"] for where, text in written
               if "(exit 0)" in where)
    assert rows >= 60  # most files were read, not refused
    for where, text in written:
        assert_no_pii(text, where)
    for record in caplog.records:
        assert_no_pii(record.getMessage() + json.dumps(getattr(record, "fields", {}), default=str), "a log record")
    assert_no_pii(_sqlite_text(home, "triage.sqlite3"), "the SQLite store")
    assert_no_pii(_sqlite_text(home, "redaction-cache.sqlite3"), "the redaction cache")


def _history(stack: Stack) -> list[tuple[str, str]]:
    """Every execution's input, output and history events."""
    found = []
    for execution in stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]:
        arn = execution["executionArn"]
        found.append((f"execution {arn}", json.dumps(stack.sfn.describe_execution(executionArn=arn), default=str)))
        pages = stack.sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        found.append((f"history of {arn}", json.dumps([e for p in pages for e in p["events"]], default=str)))
    return found


def _tables(stack: Stack) -> list[tuple[str, str]]:
    client = stack.store._client
    found = []
    for table in client.list_tables()["TableNames"]:
        pages = client.get_paginator("scan").paginate(TableName=table)
        found.append((f"DynamoDB table {table}", json.dumps([i for p in pages for i in p["Items"]])))
    return found


def _objects(stack: Stack) -> list[tuple[str, str]]:
    """Every object the system wrote: all but the inbox, which holds the files as their senders wrote them."""
    pages = stack.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    keys = [o["Key"] for p in pages for o in p.get("Contents", []) if not o["Key"].startswith("inbox/")]
    return [(f"s3://{BUCKET}/{key}", stack.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8"))
            for key in keys]


def _dead_letters(stack: Stack) -> list[tuple[str, str]]:
    found = []
    while messages := stack.sqs.receive_message(QueueUrl=stack.dead_letter_url, MaxNumberOfMessages=10,
                                                VisibilityTimeout=300).get("Messages", []):
        found += [("a dead-letter message", m["Body"]) for m in messages]
    return found


def test_nothing_the_state_machine_writes_holds_personal_data(stack, base, tmp_path, caplog, capsys):
    import boto3

    caplog.set_level(logging.DEBUG, logger="complaints")
    # A batch in S3 is one object: a dataset folder is read by the embedded path only.
    files = {name: path for name, path in batch_files(base, tmp_path).items() if path.is_file()}
    statuses = {name: stack.run(stack.put_batch(f"inbox/{name}", path))["status"] for name, path in files.items()}
    assert statuses["every-column.csv"] == statuses["api-names.jsonl"] == "SUCCEEDED", statuses
    assert statuses["headerless.csv"] == statuses["truncated.jsonl.gz"] == "FAILED", statuses  # parked

    awslambda = boto3.client("lambda", region_name="us-east-1")
    answers = []
    for name in ("every-column.csv", "headerless.csv", "wrong-columns.csv", "malformed.jsonl"):
        event = {"body": files[name].read_text(encoding="utf-8"), "isBase64Encoded": False,
                 "headers": {"content-type": "text/csv" if name.endswith(".csv") else "application/x-ndjson"}}
        payload = awslambda.invoke(FunctionName=stack.functions["submit"], Payload=json.dumps(event))["Payload"]
        answers.append((f"the HTTP intake's answer to {name}", payload.read().decode("utf-8")))

    dead_letters = _dead_letters(stack)
    assert len(dead_letters) >= 2
    written = _history(stack) + _tables(stack) + _objects(stack) + dead_letters + answers
    assert stack.allocation_count() >= 3 and any("chunks/" in where for where, _ in written)
    for where, text in written:
        assert_no_pii(text, where)
    for record in caplog.records:
        assert_no_pii(record.getMessage() + json.dumps(getattr(record, "fields", {}), default=str), "a log record")
    out, err = capsys.readouterr()
    assert_no_pii(out + err, "the functions' stdout and stderr")
