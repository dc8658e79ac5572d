import json
import sqlite3
from dataclasses import replace

import pytest

from complaints.records import as_dict
from complaints.store import open_store
from complaints.store.sqlite import SQLiteStore
from testing.store_contract import FEEDBACK, GATE, RELEASE, StoreContract, allocation, complaint


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
    assert store.add_feedback(migrated) is False  # a resend under the old key is recognised
    assert store.add_feedback(FEEDBACK) is True and len(store.list_feedback("1")) == 2
