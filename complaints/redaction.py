"""Redact personal data the CFPB has not already masked, before anything is stored or logged.

The CFPB masks names, dates and amounts (``XXXX``, ``XX/XX/XXXX``, ``{$1000.00}``) but narratives that
reach the bank directly can still carry e-mail addresses, phone numbers, card, account and loan numbers,
SSNs, dates of birth, IP addresses, street addresses and names. Each is replaced by a bracketed token
(``[EMAIL]``, ``[PHONE]``, ``[CARD]``, ``[SSN]``, ``[ACCOUNT]``, ``[DOB]``, ``[IP]``, ``[ADDRESS]``,
``[NAME]``) so that models and analysts still see that one was there. The CFPB masks are left as they are.

Two recognizers find them: our RE2 rules below (every kind; names only after a cue such as "Mr." or "my
name is") and spaCy's named-entity recogniser for the names no cue announces, both inside Microsoft
Presidio's ``AnalyzerEngine`` (complaints/name_finder.py; the English pipeline comes from a PyPI package, so
it loads offline). A text in which no capitalised word follows another word ("Credit card", "CA") can hold
no such name: the rules alone run on it, and Presidio is never loaded for it. Where both find an item, the
rules' span and kind win.

Linear time on any input:

* every pattern is an RE2 expression (``google-re2``): automata, no backtracking, so no input makes a
  pattern slower than linear (Python's ``re`` took 9 s on "account" + 16k spaces and 20 s on 100k digits);
* spaCy sees no run of punctuation long enough to make its tokenizer super-linear, and its recogniser
  only bounded sentences that may hold a name (complaints/name_finder.py);
* each call looks at no more than :data:`MAX_REDACT_CHARS` characters. Text beyond that is *dropped*, never
  passed through unredacted: the result ends with :data:`TRUNCATION_MARKER` and the counts carry
  ``TRUNCATED: 1``. An item that straddles the cut is still found (the patterns see
  :data:`_LOOKAHEAD_CHARS` more) and replaced whole.

``make bench-redaction`` (model/bench_redaction.py) shows the seconds per MB staying flat as worst-case
inputs grow. tests/pii_cases.py measures recall per kind and false positives on real narratives.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import re2

from complaints.settings import Settings
from complaints.taxonomy import Taxonomy

# The most characters one call redacts: intake keeps at most 65,536 characters of a rejected record and
# rejects narratives over 32,000, so only an oversized attribute (a megabyte "Company") is ever cut.
MAX_REDACT_CHARS = 65_536
TRUNCATION_MARKER = "[TRUNCATED]"
# How far past the cut the patterns look, so an item that starts before it is matched whole. Every pattern
# whose match can run longer than this ends in an unbounded run (digits, spaces) that is then replaced whole.
_LOOKAHEAD_CHARS = 1024

_SP = r"[ \t\x{00A0}]"          # one space inside a number: space, tab, no-break space
_SEP = r"[ \t\x{00A0}.-]"       # one separator inside a number
_START = r"(?:^|[^0-9A-Za-z_])"  # RE2 has no lookbehind: a non-word character (kept) or the start
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_HEX = r"[0-9A-Fa-f]{1,4}"


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card(match) -> str | None:
    """A 13-19 digit number: a card when its Luhn check holds, otherwise an account number."""
    digits = "".join(ch for ch in match.group("pii") if ch.isdigit())
    return "CARD" if _luhn(digits) else "ACCOUNT"


def _account(match) -> str | None:
    """A number after "account", "loan"...: 4 digits are enough after "#", "no" or "number", else 5."""
    needed = 4 if match.group("mark") or match.group("colon") else 5
    return "ACCOUNT" if _digits(match.group("pii")) >= needed else None


# Capitalised words that start sentences rather than names: "Dr. My card..." is no name.
_NOT_NAMES = frozenset("""a an and at but by for from he her his i in it my no not on or our she so the their then
they this to we when you your born call card date email phone please thank thanks xxxx
mr mrs ms miss mx dr""".split())


def _name(match) -> str | None:
    first = match.group("pii").split()[0].lower()
    return None if first in _NOT_NAMES else "NAME"


def _international(match) -> str | None:
    return "PHONE" if 8 <= _digits(match.group("pii")) <= 15 else None


@dataclass(frozen=True)
class _Rule:
    kind: str
    regex: re2._Regexp
    check: Callable | None = None  # match -> kind, or None to leave the match alone

    @property
    def pii(self) -> int:
        return self.regex.groupindex["pii"]


def _rule(kind: str, pattern: str, check: Callable | None = None) -> _Rule:
    regex = re2.compile(pattern)
    assert "pii" in regex.groupindex, pattern
    return _Rule(kind, regex, check)


# Order is priority: where two patterns find overlapping items, the earlier one's wins. Only the group
# ``pii`` is replaced; the rest of a match is context that stays ("account number " is kept).
_RULES: list[_Rule] = [
    _rule("EMAIL", r"(?P<pii>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"),
    _rule("IP", r"(?:^|[^0-9A-Za-z_:.])(?P<pii>(?:" + _HEX + ":){7}" + _HEX
          + "|(?:" + _HEX + ":){1,6}(?::" + _HEX + "){1,6}"
          + "|::(?:" + _HEX + ":){0,5}" + _HEX + ")(?:$|[^0-9A-Za-z_:])"),
    _rule("IP", r"\b(?P<pii>(?:" + _OCTET + r"\.){3}" + _OCTET + r")\b"),
    _rule("DOB", r"(?i:\b(?:dob|d\.o\.b|date\s+of\s+birth|birth\s*date|birthday|born))"
          r"[^0-9A-Za-z]{0,4}(?:(?:is|was|on|in|:)[^0-9A-Za-z]{1,3}){0,2}"
          r"(?P<pii>[0-9]{1,2}[/.-][0-9]{1,2}[/.-](?:[0-9]{4}|[0-9]{2})|[0-9]{4}[/.-][0-9]{1,2}[/.-][0-9]{1,2}"
          r"|(?i:" + _MONTH + r")\.?\s+[0-9]{1,2}(?:st|nd|rd|th)?,?\s+[0-9]{4}"
          r"|[0-9]{1,2}(?:st|nd|rd|th)?\s+(?i:" + _MONTH + r")\.?,?\s+[0-9]{4})\b"),
    _rule("SSN", r"\b(?P<pii>[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3}" + _SP + "[0-9]{2}" + _SP + r"[0-9]{4}"
          r"|[0-9]{3}\.[0-9]{2}\.[0-9]{4})\b"),
    _rule("SSN", r"(?i:\b(?:ssn|ss#|social\s+security(?:\s+(?:number|num|no|#))?))"
          r"[^0-9A-Za-z]{0,4}(?:(?:is|was|:)[^0-9A-Za-z]{1,3})?"
          r"(?P<pii>[0-9]{3}" + _SEP + "?[0-9]{2}" + _SEP + r"?[0-9]{4})\b"),
    _rule("CARD", r"\b(?P<pii>(?:[0-9][ \t\x{00A0}-]?){12,18}[0-9])\b", _card),
    _rule("ACCOUNT", r"(?i:\b(?:account|acct|a/c|loan|routing|member(?:ship)?|policy|checking|savings))"
          r"(?P<mark>\s*(?i:number|num|nbr|no|#|id))?\.?\s*(?P<colon>[:#])?\s*(?:(?i:is|was)\s+)?"
          r"(?P<pii>[0-9]{1,20}(?:[ -][0-9]{1,20}){0,5})\b", _account),
    _rule("PHONE", r"(?:^|[^0-9A-Za-z_+])(?P<pii>(?:\+?1" + _SEP + r"?)?(?:\([0-9]{3}\)" + _SP + "?|[0-9]{3}"
          + _SEP + ")[0-9]{3}" + _SEP + r"[0-9]{4})\b"),
    _rule("PHONE", _START + r"(?P<pii>\+[1-9][0-9]{0,2}(?:" + _SEP + r"?\(?[0-9]{1,5}\)?){2,6})\b",
          _international),
    _rule("PHONE", r"(?i:\b(?:phone|tel|telephone|cell|cellphone|mobile|fax|call\s+me|text\s+me|reach\s+me))"
          r"[^0-9A-Za-z]{0,4}(?:(?:number|num|no|is|at|on|:)[^0-9A-Za-z]{1,3}){0,3}(?P<pii>1?[0-9]{10})\b"),
    _rule("ADDRESS", r"\b(?P<pii>[0-9]{1,6}(?:\s+(?:[NSEW]\.?|North|South|East|West))?(?:\s+[A-Z][A-Za-z'-]*){1,4}"
          r"\s+(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace"
          r"|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Trail|Square|STREET|AVENUE|ROAD|DRIVE|LANE|COURT)\b"
          r"(?:\.?,?\s+(?i:apt|apartment|unit|suite|ste|#)\.?\s*[0-9A-Za-z-]{1,6}\b)?)"),
    _rule("ADDRESS", r"\b(?P<pii>(?i:p\.?\s?o\.?\s?box|post\s+office\s+box)\s+[0-9]{1,6})\b"),
    _rule("NAME", r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|MR|MRS|MS|DR)\.?" + _SP + r"+(?P<pii>[A-Z][a-z]*(?:['-]?[A-Z]?[a-z]+)+(?:" + _SP
          + r"+[A-Z][a-z]*(?:['-]?[A-Z]?[a-z]+)+)?)", _name),
    _rule("NAME", r"(?i:\b(?:my\s+name\s+is|name\s*:|sincerely|regards|respectfully|signed|named|spoke\s+(?:to|with)))[,.]?\s+"
          r"(?P<pii>[A-Z][a-z]*(?:['-]?[A-Z]?[a-z]+)+(?:" + _SP + r"+[A-Z]\.)?(?:" + _SP + r"+[A-Z][a-z]*(?:['-]?[A-Z]?[a-z]+)+){0,2})", _name),
    _rule("PHONE", r"\b(?P<pii>[0-9]{3}-[0-9]{4})\b"),
    _rule("ACCOUNT", r"\b(?P<pii>[0-9]{8,})\b"),
]


def _rule_spans(text: str) -> list[tuple[int, int, str]]:
    """The items the RE2 rules find: a match is dropped where any of it, context included, lies in an item an
    earlier rule found. Linear in ``len(text)``: each pattern scans it once, overlaps are checked on a byte mask."""
    taken = bytearray(len(text))
    spans: list[tuple[int, int, str]] = []
    for rule in _RULES:
        group = rule.pii
        for match in rule.regex.finditer(text):
            start, end = match.span(group)
            # The context counts too: "Dr." that ends an address already found is no title before a name.
            if start >= end or taken.find(1, *match.span()) != -1:
                continue
            kind = rule.kind if rule.check is None else rule.check(match)
            if kind is None:
                continue
            taken[start:end] = b"\x01" * (end - start)
            spans.append((start, end, kind))
    return spans


# A text where no capitalised word follows another word holds no sentence the name finder would look at
# (complaints/name_finder.py): "Credit card", "Closed with explanation". Such texts never load spaCy.
_CAPITAL_AFTER_WORD = re2.compile(r"\S\s+[\"'(]*\p{Lu}")
_CAPITALISED = re2.compile(r"\p{Lu}\p{Ll}")


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


def pii_spans(text: str) -> list[tuple[int, int, str]]:
    """The ``(start, end, kind)`` of every item :func:`redact` replaces in ``text``, in order, disjoint.

    The rules' items, then each name the recogniser found that overlaps none of them. Callers should pass at
    most :data:`MAX_REDACT_CHARS` (+ lookahead) characters; :func:`redact` does.
    """
    if _CAPITAL_AFTER_WORD.search(text) is None:
        return sorted(_rule_spans(text))
    from complaints.name_finder import analyze  # Presidio and spaCy load on the first text that needs them

    spans, names = analyze(text, allow_list=_labels())
    taken = bytearray(len(text))
    for start, end, _ in spans:
        taken[start:end] = b"\x01" * (end - start)
    spans += [(start, end, "NAME") for start, end in names
              if taken.find(1, start, end) == -1 and _is_name(text[start:end])]
    spans.sort()
    return spans


def redact(text: str) -> tuple[str, Counter[str]]:
    """Return the text with personal data replaced by ``[KIND]`` tokens, and how many of each kind.

    At most :data:`MAX_REDACT_CHARS` characters come back redacted; anything beyond is replaced by
    :data:`TRUNCATION_MARKER` (counted as ``TRUNCATED``).
    """
    truncated = len(text) > MAX_REDACT_CHARS
    window = text[:MAX_REDACT_CHARS + _LOOKAHEAD_CHARS] if truncated else text
    limit = MAX_REDACT_CHARS if truncated else len(text)
    counts: Counter[str] = Counter()
    pieces: list[str] = []
    pos = 0
    for start, end, kind in pii_spans(window):
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
