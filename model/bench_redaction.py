"""Worst-case benchmark of complaints.redaction: seconds per MB must stay flat as inputs grow (linear time).

``make bench-redaction``. A benchmark, not a test: it prints a table and asserts nothing. Each input is
redacted through :func:`complaints.redaction.pii_spans` (no per-call cap, so the patterns see every byte)
and through :func:`complaints.redaction.redact` (capped at MAX_REDACT_CHARS, so its time stops growing).
Optionally ``--python-re`` times the pre-RE2 patterns on the small sizes, for comparison.
"""

from __future__ import annotations

import argparse
import re
import time

from complaints.redaction import pii_spans, redact

# Shapes that make backtracking engines quadratic or worse: a keyword then a long run that never completes
# a match, long digit runs, repeated separators, near-miss phone/card/address/name prefixes.
WORST_CASES = {
    "'account' + spaces": lambda n: "account" + " " * (n - 7),
    "digits": lambda n: "9" * n,
    "digit-space pairs": lambda n: "1 " * (n // 2),
    "separators .-": lambda n: ".-" * (n // 2),
    "'acct #' repeated": lambda n: "acct # " * (n // 7),
    "phone prefixes": lambda n: "(555) 123-" * (n // 10),
    "ipv6-ish hex": lambda n: "ab:" * (n // 3),
    "capitalised words": lambda n: "1 Aaaa " * (n // 7),
    "'my name is' + caps": lambda n: ("my name is " + "Aa " * 50) * (n // 161),
    "e-mail locals": lambda n: "a." * (n // 2) + "@",
    "narrative-like": lambda n: ("I called on XX/XX/XXXX about account 1234 and paid {$100.00}. " * (n // 64)),
}
SIZES = (16_384, 131_072, 1_048_576)

_OLD = [re.compile(p) for p in (  # complaints/redaction.py before RE2, for --python-re
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    r"(\b)\d{3}-\d{2}-\d{4}\b|(?i:(\b(?:ssn|social security(?: number)?)\W{0,3}(?:(?:is|was)\s+)?))\d{9}\b",
    r"\b(?:\d[ -]?){12,18}\d\b",
    r"(?<!\w)(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}\b",
    r"(?i)(\b(?:account|acct|loan|routing)\b(?:\s*(?:number|no|num|#))?\.?\s*[:#]?\s*)\d{5,}\b",
    r"\b\d{8,}\b")]


def _time(fn, text: str) -> float:
    start = time.perf_counter()
    fn(text)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--python-re", action="store_true", help="also time the old Python-re patterns (16k only)")
    args = parser.parse_args()
    header = f"{'input':<22}" + "".join(f"{f'{size // 1024}k s/MB':>13}" for size in SIZES) + f"{'redact 1M s':>13}"
    if args.python_re:
        header += f"{'old re 16k s':>14}"
    print(header)
    for name, make in WORST_CASES.items():
        row = f"{name:<22}"
        for size in SIZES:
            text = make(size)
            row += f"{_time(pii_spans, text) / (len(text) / 1e6):>13.3f}"
        row += f"{_time(redact, make(SIZES[-1])):>13.3f}"
        if args.python_re:
            text = make(SIZES[0])
            row += f"{_time(lambda t: [p.sub('', t) for p in _OLD], text):>14.3f}"
        print(row, flush=True)
    print("linear: the s/MB columns stay flat as the input grows 64-fold; redact() is capped per call.")


if __name__ == "__main__":
    main()
