"""Redact personal data the CFPB has not already masked, before anything is stored or logged.

The CFPB masks names, dates and amounts (``XXXX``, ``XX/XX/XXXX``, ``{$1000.00}``) but narratives that
reach the bank directly can still carry e-mail addresses, phone numbers, card, account and loan numbers,
SSNs, dates of birth, IP addresses, street addresses, identity documents' numbers, credentials, user names on
social networks and payment apps, and names. Each is replaced by a bracketed token (``[EMAIL]``, ``[PHONE]``,
``[CARD]``, ``[SSN]``, ``[ACCOUNT]``, ``[DOB]``, ``[IP]``, ``[ADDRESS]``, ``[ID]``, ``[CREDENTIAL]``, ``[HANDLE]``,
``[NAME]``) so that models and analysts still see that one was there. The CFPB masks are left as they are.

Two recognizers find them: our RE2 rules (complaints/redaction/rules.py: every kind; names only after a cue
such as "Mr." or "my name is") and spaCy's named-entity recogniser for the names no cue announces, both inside
Microsoft Presidio's ``AnalyzerEngine`` (complaints/redaction/names.py; the English pipeline comes from a PyPI
package, so it loads offline). A text in which no capitalised word follows another word ("Credit card", "CA") can
hold no such name: the rules alone run on it, and Presidio is never loaded for it. Where both find an item, the
rules' span and kind win. A span the recogniser calls a person is kept when it is a firm or plain words
(complaints/redaction/lexicon/: "Hunter Warfield", "Law"), and so is a cue's name that is a firm ("Mr.
Cooper"): the CFPB masks consumers' names, so on its narratives nearly all of those were firms and words.

Structured fields are redacted by their kind: the rules find the items any field may carry, and only free
text (the narrative, fields of unknown kind) is searched for names. The ``Company`` is the firm complained
about: intake keeps one of the CFPB company list as it is, and it is a firm in its own narrative.

Linear time on any input:

* every pattern is an RE2 expression (``google-re2``): automata, no backtracking, so no input makes a
  pattern slower than linear (Python's ``re`` took 9 s on "account" + 16k spaces and 20 s on 100k digits);
* spaCy sees no run of punctuation long enough to make its tokenizer super-linear, and its recogniser
  only bounded sentences that may hold a name (complaints/redaction/names.py);
* each call looks at no more than :data:`MAX_REDACT_CHARS` characters. Text beyond that is *dropped*, never
  passed through unredacted: the result ends with :data:`TRUNCATION_MARKER` and the counts carry
  ``TRUNCATED: 1``. An item that straddles the cut is still found (the patterns see
  :data:`_LOOKAHEAD_CHARS` more) and replaced whole.

``make bench-redaction`` (tools/bench_redaction.py) shows the seconds per MB staying flat as worst-case
inputs grow. testing/pii_cases.py measures recall per kind and false positives on real narratives.
"""

from __future__ import annotations

import functools
import unicodedata
from collections import Counter
from collections.abc import Callable

import re2

from complaints.config import Settings
from complaints.redaction.lexicon import firm_spans, is_common
from complaints.redaction.rules import rule_spans
from complaints.taxonomy import Taxonomy

# The most characters one call redacts: intake keeps at most 65,536 characters of a rejected record and
# rejects narratives over 32,000, so only an oversized attribute (a megabyte "Company") is ever cut.
MAX_REDACT_CHARS = 65_536
TRUNCATION_MARKER = "[TRUNCATED]"
# How far past the cut the patterns look, so an item that starts before it is matched whole. Every pattern
# whose match can run longer than this ends in an unbounded run (digits, spaces) that is then replaced whole.
_LOOKAHEAD_CHARS = 1024
# The most passes :func:`redact` makes over a text until its result is its own redaction (the shared data needs two
# at most: 1 of its 18,303 narratives changes in a second pass, the citation "Chester v. Purvis", none in a third).
_MAX_PASSES = 8

# A text where no capitalised word follows another word holds no sentence the name finder would look at
# (complaints/redaction/names.py): "Credit card", "Closed with explanation". Such texts never load spaCy.
_CAPITAL_AFTER_WORD = re2.compile(r"\S\s+[\"'(]*\p{Lu}")
_CAPITALISED = re2.compile(r"\p{Lu}\p{Ll}")
_TOKEN = re2.compile(r"\[[A-Z]+\]")  # what redaction writes in an item's place: [NAME], [EMAIL], [TRUNCATED]


@functools.cache
def _labels() -> frozenset[str]:
    """The taxonomy's labels, never personal data: the recogniser calls the tag "Older American" a person."""
    taxonomy = Taxonomy.load(Settings.from_env().taxonomy_file)
    issues = [label for issue, entry in taxonomy.issues.items() for label in [issue, *entry.get("by_sub_issue", {})]]
    products = [label for product, entry in taxonomy.products.items()
                for label in [product, *entry.get("by_sub_product", {})]]
    return frozenset([*taxonomy.vulnerable_tags, *products, *issues])


def _is_name(name: str) -> bool:
    """Whether a span the recogniser calls a person can be one: it also says so of CFPB masks ("XXXX XXXX",
    "XXXX XXXX Street": the CFPB has already masked the name there) and of "TX", "2015", "'s" or "FDCPA"."""
    return _CAPITALISED.search(name) is not None and "XX" not in name


def pii_spans(text: str, company: str = "", names: bool = True) -> list[tuple[int, int, str]]:
    """The ``(start, end, kind)`` of every item :func:`redact` replaces in ``text``, in order, disjoint.

    The rules' items, then, where ``names`` (free text), each name the recogniser found that overlaps none of
    them and is neither a firm (masked before it reads the text) nor plain words; ``company`` is the
    complaint's firm. Callers should pass at most :data:`MAX_REDACT_CHARS` (+ lookahead) characters;
    :func:`redact` does.
    """
    spans, firms = rule_spans(text), None
    if names and _CAPITAL_AFTER_WORD.search(text) is not None:
        # Presidio and spaCy load on the first text that needs them
        from complaints.redaction.names import person_spans

        firms = firm_spans(text, company)
        taken = bytearray(len(text))
        for start, end, _ in spans:
            taken[start:end] = b"\x01" * (end - start)
        spans += [(start, end, "NAME") for start, end in person_spans(_as_read(text, firms), _labels())
                  if taken.find(1, start, end) == -1 and _is_name(name := text[start:end]) and not is_common(name)]
    if any(kind == "NAME" for _, _, kind in spans):
        firms = firm_spans(text, company) if firms is None else firms
        spans = [(start, end, kind) for start, end, kind in spans
                 if kind != "NAME" or not any(a < end and start < b for a, b in firms)]
    return sorted(spans)


def _as_read(text: str, firms: list[tuple[int, int]]) -> str:
    """``text`` as the recogniser reads it, masked as the CFPB masks: every letter and digit of ``firms`` an ``X``,
    so it never reads a firm's name as a person's and a sentence whose only capitalised words are firms never reaches
    it; and each of redaction's own tokens (``[NAME]``) all ``X``, so a redacted text reads as the CFPB's do. Read as
    written, a token changes the sentence around it: "Messerli and [NAME]" made "Messerli" a person where "Messerli
    and Kramer" had made only "Kramer" one."""
    tokens = [match.span() for match in _TOKEN.finditer(text)]
    if not firms and not tokens:
        return text
    chars = list(text)
    for start, end in firms:
        chars[start:end] = ["X" if char.isalnum() else char for char in chars[start:end]]
    for start, end in tokens:
        chars[start:end] = ["X"] * (end - start)
    return "".join(chars)


Redactor = Callable[..., tuple[str, Counter[str]]]  # (text, company="", names=True): redact, or a cache of it


def as_written(text: str) -> str:
    """``text`` in the characters its writer meant, so that no item escapes a pattern by how it is encoded: format
    characters dropped (a zero-width space inside an SSN, a bidirectional override), compatibility forms folded
    (NFKC: the full-width "１２３" is "123") and every script's decimal digits written as ASCII ones ("١٢٣")."""
    if text.isascii():
        return text
    text = "".join(char for char in text if unicodedata.category(char) != "Cf")
    text = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(char)) if char.isdecimal() and not char.isascii() else char
                   for char in text)


def redact(text: str, company: str = "", names: bool = True) -> tuple[str, Counter[str]]:
    """Return the text with personal data replaced by ``[KIND]`` tokens, and how many of each kind
    (``company`` and ``names`` as :func:`pii_spans` takes them). The text is read :func:`as_written` first, and
    comes back so.

    At most :data:`MAX_REDACT_CHARS` characters come back redacted; anything beyond is replaced by
    :data:`TRUNCATION_MARKER` (counted as ``TRUNCATED``, once).

    The result is its own redaction, so a redacted text read back (the training dataset exported from intake,
    model/dataset.py) is redacted to itself and trains what its source trained. The recogniser reads a name in its
    sentence and a replaced item changes the sentence, so the recogniser reads each token as a CFPB mask
    (:func:`_as_read`), and the text is redacted again until nothing changes ("Chester v. Purvis": "Purvis" is a
    person only once "Chester" is masked). Each pass that changes the text replaces characters that are no token by
    a token, which no pattern or name matches, so it ends; the bound only caps a text's cost.
    """
    text = as_written(text)
    redacted, counts = _redact_once(text, company, names)
    previous = text
    for _ in range(_MAX_PASSES - 1):
        if redacted == previous:  # a pass that changed nothing would change nothing again: most texts, one pass
            break
        again, found = _redact_once(redacted, company, names)
        previous, redacted = redacted, again
        counts.update({kind: n for kind, n in found.items() if kind != "TRUNCATED" or not counts[kind]})
    return redacted, counts


def _redact_once(text: str, company: str, names: bool) -> tuple[str, Counter[str]]:
    truncated = len(text) > MAX_REDACT_CHARS
    window = text[:MAX_REDACT_CHARS + _LOOKAHEAD_CHARS] if truncated else text
    limit = MAX_REDACT_CHARS if truncated else len(text)
    counts: Counter[str] = Counter()
    pieces: list[str] = []
    pos = 0
    for start, end, kind in pii_spans(window, company, names):
        if start >= limit:
            break
        pieces.append(window[pos:start])
        pieces.append(f"[{kind}]")
        counts[kind] += 1
        pos = end
    if truncated:
        pieces.append(window[pos:limit] if pos < limit else "")
        pieces.append(TRUNCATION_MARKER)
        counts["TRUNCATED"] += 1
    else:
        pieces.append(window[pos:])
    return "".join(pieces), counts
