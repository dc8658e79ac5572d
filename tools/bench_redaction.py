"""Worst-case benchmark of complaints.redaction: seconds per MB must stay flat as inputs grow (linear time).

``make bench-redaction``. A benchmark, not a test: it prints tables and asserts nothing. Each input is
redacted through :func:`complaints.redaction.pii_spans` (no per-call cap, so the RE2 rules and spaCy's
named-entity recogniser see every byte) and through :func:`complaints.redaction.redact` (capped at
MAX_REDACT_CHARS, so its time stops growing). Then real complaints from the CFPB sample are redacted field by
field as intake does, by the whole engine and by the RE2 rules alone: complaints per second.
Then precision and recall: on real narratives as the CFPB published them (consumers' names already masked, so
nearly every ``[NAME]`` is a false positive; the spans are listed for a reader to check for real leftover
names), items per complaint by kind; on the labelled set of testing/pii_cases.py, recall per kind.
Optionally ``--python-re`` times the pre-RE2 patterns on the small sizes, for comparison.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import re
import time
from collections.abc import Callable

from collections import Counter

from complaints.redaction import pii_spans, redact
from complaints.redaction.rules import rule_spans
from complaints.intake import data_files
from complaints.config import default_data_path
from complaints.schema import STRUCTURED_COLUMNS

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
    "secrets after cues": lambda n: "pin: abcd " * (n // 10),  # every one a match whose check looks past it
    "handles": lambda n: "@ab facebook.com/ab " * (n // 20),
    "line breaks in digits": lambda n: "1\n" * (n // 2),
    "narrative-like": lambda n: ("I called on XX/XX/XXXX about account 1234 and paid {$100.00}. " * (n // 64)),
    # what spaCy's recogniser sees: it runs on all of these (a capitalised word follows another word)
    "capitalised run": lambda n: "Aaaa " * (n // 5),
    "name pairs": lambda n: "Maria Garcia " * (n // 13),
    "one huge token": lambda n: "I Aa " + "a" * (n - 5),
    "one punctuation run": lambda n: "I Aa " + "(" * (n - 5),  # spaCy's tokenizer alone: minutes at 64k
    "\"'s\" run": lambda n: "I Aa " + "'s" * ((n - 5) // 2),
    "spaces then a name": lambda n: " " * (n - 13) + "Maria Garcia.",
}
# 16-fold, up to what one redact() call looks at (MAX_REDACT_CHARS). Beyond it, with a hundred thousand spaCy tokens
# alive at once, Python's garbage collector alone doubles the seconds per MB of some inputs; redact() never gets there.
SIZES = (4_096, 16_384, 65_536)

_OLD = [re.compile(p) for p in (  # complaints/redaction/ before RE2, for --python-re
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    r"(\b)\d{3}-\d{2}-\d{4}\b|(?i:(\b(?:ssn|social security(?: number)?)\W{0,3}(?:(?:is|was)\s+)?))\d{9}\b",
    r"\b(?:\d[ -]?){12,18}\d\b",
    r"(?<!\w)(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}\b",
    r"(?i)(\b(?:account|acct|loan|routing)\b(?:\s*(?:number|no|num|#))?\.?\s*[:#]?\s*)\d{5,}\b",
    r"\b\d{8,}\b")]


def _time(fn, text: str, repeat: int = 2) -> float:
    """The best of ``repeat`` runs: the machine may be busy with something else for one of them."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - start)
    return best


def complaints_per_second(rows: list[dict[str, str]], spans_of: Callable[..., list]) -> float:
    """Every non-empty field of every row through ``spans_of``, as intake redacts them: free text for everything,
    the known fields for all but names (a listed firm is kept as it is, but timed here all the same)."""
    start = time.perf_counter()
    for row in rows:
        company = row.get("Company", "")
        for column, value in row.items():
            if value.strip():
                spans_of(value.strip(), company, column not in STRUCTURED_COLUMNS)
    return len(rows) / (time.perf_counter() - start)


def real_complaints(n: int) -> list[dict[str, str]]:
    path = default_data_path()
    if path is None:
        raise SystemExit("the CFPB sample is missing (see README, 'Data'); pass --complaints 0 to skip")
    with gzip.open(data_files(path)[0], "rt", encoding="utf-8", newline="") as handle:
        return [row for _, row in zip(range(n), csv.DictReader(handle))]


def precision() -> None:
    """Items per narrative by kind over every narrative of the data files, whose consumers' names the CFPB
    masked, and the names found (firms the lexicon lacks, words, and real names the CFPB left)."""
    for path in data_files(default_data_path()):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        kinds, names = Counter(), Counter()
        for row in rows:
            text = row.get("Consumer complaint narrative", "")
            for start, end, kind in pii_spans(text, row.get("Company", "")):
                kinds[kind] += 1
                if kind == "NAME":
                    names[text[start:end]] += 1
        print(f"\n{path.name}: {len(rows)} narratives (names masked by the CFPB), items per narrative: "
              + ", ".join(f"{kind} {n / len(rows):.3f}" for kind, n in kinds.most_common()))
        print("  the [NAME] spans, most frequent first:", ", ".join(f"{name!r} {n}" for name, n in names.most_common(40)))


def recall() -> None:
    from testing.pii_cases import build_cases, measure, narratives, table
    print("\nthe labelled set (testing/pii_cases.py):\n" + table({"engine": measure(build_cases(narratives()), pii_spans)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--python-re", action="store_true", help="also time the old Python-re patterns (16k only)")
    parser.add_argument("--complaints", type=int, default=500, help="real complaints to time (0: skip)")
    args = parser.parse_args()
    pii_spans("Maria Garcia")  # load the engine first: seconds, once per process
    header = f"{'input':<22}" + "".join(f"{f'{size // 1024}k s/MB':>12}" for size in SIZES) + f"{'redact 1M s':>13}"
    if args.python_re:
        header += f"{'old re 16k s':>14}"
    print(header)
    for name, make in WORST_CASES.items():
        row = f"{name:<22}"
        for size in SIZES:
            text = make(size)
            row += f"{_time(pii_spans, text) / (len(text) / 1e6):>12.3f}"
        row += f"{_time(redact, make(1_048_576)):>13.3f}"
        if args.python_re:
            text = make(16_384)
            row += f"{_time(lambda t: [p.sub('', t) for p in _OLD], text):>14.3f}"
        print(row, flush=True)
    print("linear: the s/MB columns stay flat as the input grows 16-fold; redact() is capped per call.")
    if args.complaints:
        rows = real_complaints(args.complaints)
        print(f"\n{len(rows)} real complaints, every field redacted: "
              f"{complaints_per_second(rows, pii_spans):.1f} complaints/s (Presidio: RE2 rules + spaCy), "
              f"{complaints_per_second(rows, lambda text, *_: rule_spans(text)):.1f} complaints/s (the RE2 rules alone)")
        precision()
        recall()


if __name__ == "__main__":
    main()
