import json
import re
import sqlite3
import stat
from dataclasses import replace

import pytest

from complaints.records import as_dict
from complaints.store import StoreUnavailable, open_store
from complaints.store.sqlite import SQLiteStore
from testing.store_contract import BATCH, FEEDBACK, GATE, RELEASE, StoreContract, allocation, complaint

# The layout of the files written before the queue index (the statements the store ran before its tables were
# declared in complaints/store/tables.py): opened now, such a file must be migrated to what a new file is, table by
# table, column by column, index by index.
WRITTEN_LAYOUT = """
CREATE TABLE raw_complaints (complaint_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE complaints_allocation (
    complaint_id TEXT PRIMARY KEY, queue TEXT NOT NULL, allocated_at TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX allocation_by_queue ON complaints_allocation (queue, allocated_at);
CREATE TABLE allocation_history (complaint_id TEXT, allocated_at TEXT, body TEXT NOT NULL,
    PRIMARY KEY (complaint_id, allocated_at));
CREATE TABLE model_info (task TEXT, version TEXT, body TEXT NOT NULL, PRIMARY KEY (task, version));
CREATE TABLE model_strategy (task TEXT PRIMARY KEY, revision INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE feedback (complaint_id TEXT, idempotency_key TEXT, at TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (complaint_id, idempotency_key));
CREATE TABLE rejected_rows (batch_id TEXT, row_number INTEGER, body TEXT NOT NULL, PRIMARY KEY (batch_id, row_number));
CREATE TABLE triage_batches (batch_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE audit_log (event_id TEXT PRIMARY KEY, at TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE gate_decisions (task TEXT, challenger TEXT, champion TEXT, decided_at TEXT NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (task, challenger, champion));
CREATE TABLE releases (environment TEXT, applied_at TEXT, release_id TEXT, body TEXT NOT NULL,
    PRIMARY KEY (environment, applied_at, release_id));
CREATE TABLE users (name TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE explanations (complaint_id TEXT, task TEXT, version TEXT, body TEXT NOT NULL,
    PRIMARY KEY (complaint_id, task, version));
"""


def layout(path) -> dict[str, tuple]:
    """Each table's columns (name, type, not null, key position) and indexes (name, unique, columns)."""
    db = sqlite3.connect(path)
    tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    found = {table: (list(db.execute(f"PRAGMA table_info({table})")),
                     sorted((name, unique, [column for *_, column in db.execute(f"PRAGMA index_info({name})")])
                            for _, name, unique, *_ in db.execute(f"PRAGMA index_list({table})")))
             for table in tables}
    db.close()
    return found


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        return SQLiteStore(tmp_path / "triage.sqlite3")


def test_the_sqlite_file_persists_across_processes(tmp_path):
    path = tmp_path / "store" / "triage.sqlite3"
    first = open_store(f"sqlite:///{path}")
    first.put_complaint(complaint())
    first.put_allocation(allocation())
    first.close()
    again = open_store(f"sqlite:///{path}")
    assert again.get_complaint("1001") == complaint()
    assert again.get_allocation("1001") == allocation()


def test_a_batch_recorded_before_batches_kept_their_reruns_keeps_its_first_run(tmp_path):
    store = SQLiteStore(tmp_path / "triage.sqlite3")
    written = {k: v for k, v in as_dict(BATCH).items() if k != "reruns"}
    store._db.execute("INSERT INTO triage_batches VALUES (?, ?)", ("b1", json.dumps(written)))
    again = replace(BATCH, started_at="t2", finished_at="t3")
    assert store.put_batch(again) is True
    assert store.get_batch("b1") == replace(BATCH, reruns=[again.run()])


def test_a_file_of_the_layout_written_so_far_is_migrated_to_the_declared_one(tmp_path):
    written = sqlite3.connect(tmp_path / "written.sqlite3")
    written.executescript(WRITTEN_LAYOUT)
    written.close()
    SQLiteStore(tmp_path / "written.sqlite3").close()
    SQLiteStore(tmp_path / "new.sqlite3").close()
    new = layout(tmp_path / "new.sqlite3")
    assert new == layout(tmp_path / "written.sqlite3") and len(new) == 13
    columns, indexes = new["complaints_allocation"]
    assert [c[1] for c in columns] == ["complaint_id", "queue", "allocated_at", "revision", "body"]
    assert ("allocation_by_queue", 0, ["queue", "allocated_at"]) in indexes
    columns, indexes = new["feedback"]
    assert [c[1] for c in columns] == ["complaint_id", "idempotency_key", "at", "analyst", "body"]
    assert ("feedback_by_analyst", 0, ["analyst", "at"]) in indexes


def test_a_file_written_before_a_table_existed_gains_it(tmp_path):
    path = tmp_path / "triage.sqlite3"
    older = sqlite3.connect(path)
    older.execute("CREATE TABLE raw_complaints (complaint_id TEXT PRIMARY KEY, body TEXT NOT NULL)")
    older.close()
    store = open_store(f"sqlite:///{path}")
    assert store.put_gate_decision(GATE) is True and store.list_gate_decisions("team") == [GATE]
    assert store.put_release(RELEASE) is True and store.list_releases("prod") == [RELEASE]


def test_unknown_store_urls_are_refused():
    with pytest.raises(ValueError, match="unknown store URL"):
        open_store("redis://localhost")


def test_corrections_stored_before_idempotency_keys_keep_their_old_key(tmp_path):
    path = tmp_path / "triage.sqlite3"
    older = sqlite3.connect(path)
    older.execute("CREATE TABLE feedback (complaint_id TEXT, at TEXT, task TEXT, body TEXT NOT NULL, "
                  "PRIMARY KEY (complaint_id, at, task))")
    unkeyed = {k: v for k, v in as_dict(FEEDBACK).items() if k != "idempotency_key"}
    older.execute("INSERT INTO feedback VALUES (?, ?, ?, ?)", ("1", FEEDBACK.at, "team", json.dumps(unkeyed)))
    older.commit()
    older.close()
    store = open_store(f"sqlite:///{path}")
    migrated = replace(FEEDBACK, idempotency_key=f"{FEEDBACK.at}#team")
    assert store.list_feedback() == [migrated]
    assert store.import_feedback(migrated) is False  # a resend under the old key is recognised
    assert store.import_feedback(FEEDBACK) is True and len(store.list_feedback("1")) == 2
    assert store.count_corrections("ana", "2024-01-01") == 2  # the analyst column filled from each body


def test_allocations_stored_before_revisions_count_their_corrections(tmp_path):
    """A file from before the queue index: each allocation gets its corrections' count as its revision, so the
    next correction builds on the right one; its rows keep their queue."""
    path = tmp_path / "triage.sqlite3"
    older = sqlite3.connect(path)
    older.execute("CREATE TABLE complaints_allocation (complaint_id TEXT, queue TEXT NOT NULL, allocated_at TEXT "
                  "NOT NULL, body TEXT NOT NULL, PRIMARY KEY (complaint_id))")
    older.execute("CREATE INDEX allocation_by_queue ON complaints_allocation (queue, allocated_at)")
    older.execute("CREATE TABLE feedback (complaint_id TEXT, idempotency_key TEXT, at TEXT NOT NULL, "
                  "body TEXT NOT NULL, PRIMARY KEY (complaint_id, idempotency_key))")
    for complaint_id in ("1001", "1002"):
        older.execute("INSERT INTO complaints_allocation VALUES (?, ?, ?, ?)",
                      (complaint_id, "Credit card", "2024-05-02T10:00:01.000+00:00",
                       json.dumps(as_dict(allocation(complaint_id)))))
    older.execute("INSERT INTO feedback VALUES (?, ?, ?, ?)",
                  ("1001", "req-1", FEEDBACK.at, json.dumps(as_dict(replace(FEEDBACK, complaint_id="1001")))))
    older.commit()
    older.close()
    store = open_store(f"sqlite:///{path}")
    assert store.get_placement("1001").revision == 1 and store.get_placement("1002").revision == 0
    assert store.count_queue("Credit card") == 2


def test_the_embedded_home_and_its_store_are_their_owners_only(tmp_path):
    import stat
    from complaints.config import Settings
    from complaints.deployment import Deployment

    home = tmp_path / "home"
    Deployment.embedded(Settings.from_env(home=home)).store.close()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "triage.sqlite3").stat().st_mode) == 0o600
    (home / "triage.sqlite3").chmod(0o664)
    home.chmod(0o755)
    Deployment.embedded(Settings.from_env(home=home)).store.close()  # group and other taken off again
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "triage.sqlite3").stat().st_mode) == 0o600


def test_a_store_its_owner_made_read_only_is_read_and_a_write_is_refused(tmp_path):
    path = tmp_path / "triage.sqlite3"
    SQLiteStore(path).put_complaint(complaint())
    path.chmod(0o444)
    store = SQLiteStore(path)
    assert store.get_complaint("1001") == complaint()
    with pytest.raises(StoreUnavailable, match="read-only"):
        store.put_complaint(complaint("2002"))
    with pytest.raises(StoreUnavailable, match="read-only"):
        store.add_correction(replace(FEEDBACK, revision=1), "Mortgage")  # a transaction: refused as it begins
    assert stat.S_IMODE(path.stat().st_mode) == 0o400  # group and other taken off; no write permission given back
    path.chmod(0o600)
    assert SQLiteStore(path).get_complaint("2002") is None


@pytest.mark.parametrize("make, reason", [
    (lambda path: path.write_bytes(b"not a database, whatever its name"), "file is not a database"),
    (lambda path: path.parent.rmdir() or path.parent.write_text(""), "File exists"),
    (lambda path: path.mkdir(), "unable to open database file"),
], ids=["not-a-database", "folder-is-a-file", "file-is-a-folder"])
def test_a_store_that_cannot_be_opened_says_why_and_writes_nothing(tmp_path, make, reason):
    path = tmp_path / "home" / "triage.sqlite3"
    path.parent.mkdir()
    make(path)
    with pytest.raises(StoreUnavailable, match=re.escape(f"the store {path} cannot be opened: {reason}")):
        SQLiteStore(path)
