"""Redact personal data the CFPB has not already masked, before anything is stored or logged.

The CFPB masks names, dates and amounts (``XXXX``, ``XX/XX/XXXX``, ``{$1000.00}``) but narratives that
reach the bank directly can still carry e-mail addresses, phone numbers, card and account numbers and
SSNs. Each is replaced by a bracketed token so that models and analysts still see that one was there.
"""

from __future__ import annotations

import re
from collections import Counter

# Order matters: the most specific patterns run first so a card number is not taken for a phone.
# A pattern's first group, when it has one, is context that is kept ("account number " stays).
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("EMAIL", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")),
    ("SSN", re.compile(r"(\b)\d{3}-\d{2}-\d{4}\b|(?i:(\b(?:ssn|social security(?: number)?)\W{0,3}(?:(?:is|was)\s+)?))\d{9}\b")),
    ("CARD", re.compile(r"\b(?:\d[ -]?){12,18}\d\b")),
    ("PHONE", re.compile(r"(?<!\w)(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}\b")),
    ("ACCOUNT", re.compile(r"(?i)(\b(?:account|acct|loan|routing)\b(?:\s*(?:number|no|num|#))?\.?\s*[:#]?\s*)\d{5,}\b")),
    ("ACCOUNT", re.compile(r"\b\d{8,}\b")),
]


def _replacement(kind: str):
    token = f"[{kind}]"

    def replace(match: re.Match[str]) -> str:
        context = next((g for g in match.groups() if g is not None), "")
        return context + token

    return replace


def redact(text: str) -> tuple[str, Counter[str]]:
    """Return the text with personal data replaced by ``[KIND]`` tokens, and how many of each kind."""
    counts: Counter[str] = Counter()
    for kind, pattern in _PATTERNS:
        text, n = pattern.subn(_replacement(kind), text)
        if n:
            counts[kind] += n
    return text, counts
