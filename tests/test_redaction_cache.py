"""The redaction cache: a text is redacted once per home, and the file holds no text that was not redacted."""

import errno
import os
import sqlite3
import stat
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from complaints.config import CONFIG_DIR, Settings
from complaints.deployment import Deployment
from complaints.intake import read_batch
from complaints.redaction import cache as cache_module
from complaints.redaction import redact
from complaints.redaction.cache import RedactionCache
from complaints.taxonomy import Taxonomy
from conftest import sample, write_csv

PII = "Maria Garcia called from 415-867-5309 about SSN 512-38-4721."


@pytest.fixture
def redactions(monkeypatch) -> Counter:
    """How many times each text was really redacted, behind the cache."""
    seen: Counter = Counter()

    def counted(text, company="", names=True):
        seen[text] += 1
        return redact(text, company, names)

    monkeypatch.setattr(cache_module, "redact", counted)
    return seen


def test_a_text_is_redacted_once_and_answered_from_the_cache_after(tmp_path, redactions):
    cache = RedactionCache(tmp_path / "cache.sqlite3")
    first = cache(PII)
    assert first == redact(PII) and first[1] == {"NAME": 1, "PHONE": 1, "SSN": 1}
    assert cache(PII) == first
    reopened = RedactionCache(tmp_path / "cache.sqlite3")  # another process, the next run
    assert reopened(PII) == first
    assert redactions[PII] == 1


def test_what_the_redaction_depends_on_is_part_of_the_key(tmp_path, redactions, monkeypatch):
    cache = RedactionCache(tmp_path / "cache.sqlite3")
    text = "Shellpoint refused, and Maria Garcia at Shellpoint hung up."
    assert cache(text) == redact(text)
    assert cache(text, "Shellpoint Mortgage Servicing") == redact(text, "Shellpoint Mortgage Servicing")
    assert cache(text, names=False) == (text, Counter())
    monkeypatch.setattr(cache_module, "redaction_version", lambda: b"a changed lexicon")
    cache(text)
    assert redactions[text] == 4  # plain, with the firm, without names, and again under a new version


def test_the_file_holds_no_personal_data_and_only_its_owner_reads_it(tmp_path):
    path = tmp_path / "cache.sqlite3"
    cache = RedactionCache(path)
    cache(PII)
    del cache
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"[NAME] called from [PHONE]" in stored
    for value in (b"Garcia", b"867-5309", b"512-38-4721"):
        assert value not in stored
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_second_read_of_a_file_redacts_nothing(tmp_path, cfpb_rows, redactions):
    path = write_csv(tmp_path / "sample.csv", sample(cfpb_rows, 40, salt="cache"))
    taxonomy = Taxonomy.load(CONFIG_DIR / "taxonomy.yaml")
    cache = RedactionCache(tmp_path / "cache.sqlite3")
    first = read_batch(path, taxonomy, redactor=cache)
    done = sum(redactions.values())
    second = read_batch(path, taxonomy, redactor=cache)
    assert done > 40 and sum(redactions.values()) == done
    assert second.complaints == first.complaints and second.redactions == first.redactions


@pytest.mark.parametrize("damage", [lambda data: data[:4096], lambda data: b"not a database" + data[4096:]],
                         ids=["truncated", "not-a-database"])
def test_an_unreadable_cache_is_set_aside_with_a_warning_and_built_again(tmp_path, caplog, damage):
    path = tmp_path / "cache.sqlite3"
    first = RedactionCache(path)
    first(PII)
    first._db.close()
    path.write_bytes(damage(path.read_bytes()))
    assert RedactionCache(path)(PII) == redact(PII)
    [aside] = tmp_path.glob("cache.sqlite3.unreadable-*[0-9]")
    assert stat.S_IMODE(aside.stat().st_mode) == 0o600  # kept aside, its owner's only, for them to delete
    assert "redaction cache unreadable: set aside" in caplog.text and "Maria" not in caplog.text


def refuse_chmod(monkeypatch, name: str) -> None:
    """``os.chmod`` of a file called ``name`` refused, as for a file another user owns (tests may run as root,
    whom the kernel never refuses)."""
    chmod = os.chmod

    def refused(path, mode, **kwargs):
        if Path(path).name == name:
            raise PermissionError(errno.EPERM, "Operation not permitted", str(path))
        return chmod(path, mode, **kwargs)

    monkeypatch.setattr(os, "chmod", refused)


def test_a_command_on_a_home_whose_cache_is_another_users_runs_with_a_warning(tmp_path, cli_at, monkeypatch):
    home = tmp_path / "home"
    RedactionCache(home / "redaction-cache.sqlite3")(PII)
    refuse_chmod(monkeypatch, "redaction-cache.sqlite3")
    code, _, err = cli_at(home)("queue", "Manual triage")
    assert code == 0 and "Traceback" not in err, err
    assert "redaction cache unavailable: redacting without it" in err and "Maria" not in err


@pytest.mark.parametrize("cache", ["another user's file", "a folder in its place"])
def test_a_cache_this_user_cannot_open_is_passed_by_and_texts_are_redacted_without_it(tmp_path, monkeypatch, caplog,
                                                                                       cache):
    path = tmp_path / "home" / "redaction-cache.sqlite3"
    if cache == "another user's file":
        RedactionCache(path)(PII)
        refuse_chmod(monkeypatch, path.name)
    else:
        path.mkdir(parents=True)
    redactor = Deployment.embedded(Settings.from_env(home=path.parent)).redactor
    text = "Call John Smith on 212-555-0143 about the card."
    assert redactor(text) == redact(text) and redactor(text, names=False) == redact(text, names=False)
    assert "redaction cache unavailable: redacting without it" in caplog.text
    assert "Maria" not in caplog.text and "Smith" not in caplog.text
    if cache == "another user's file":  # left as it was: nothing of this user's is written into it
        with closing(sqlite3.connect(path)) as db:
            assert db.execute("SELECT count(*) FROM redacted").fetchone() == (1,)
    else:
        assert path.is_dir() and not any(path.iterdir())
