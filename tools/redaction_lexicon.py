"""Build the redaction's lexicon of what a capitalised word can be other than a person's name, from the CFPB data.

``make redaction-lexicon`` writes two files under complaints/redaction/lexicon/ (the third, brands.txt, is kept by
hand):

* ``companies.txt``: every firm the data files name in their ``Company`` column (the CFPB company list a bank
  has; public, never a consumer's personal data);
* ``common_words.txt``: the words the narratives write in lower case at least :data:`MIN_LOWER` times and at least
  :data:`LOWER_RATIO` times as often as capitalised inside a sentence (half as often: "law", "email", "lien",
  and "subject", which statutes quoted in complaints capitalise): spaCy calls
  "Law" or "Email" a person. The CFPB masks consumers' names before publishing, and a word has to recur in
  lower case, so no one's name is in the list.
"""

from __future__ import annotations

import argparse
import csv
import gzip
from collections import Counter
from pathlib import Path

import re2

from complaints.config import default_data_path
from complaints.intake import data_files
from complaints.redaction.lexicon import LEXICON_DIR
from complaints.schema import NARRATIVE

MIN_LOWER = 3
LOWER_RATIO = 0.5
_WORD = re2.compile(r"\p{L}+")
_SENTENCE_START = set(".!?:;\"'(\n")


def build(paths: list[Path]) -> tuple[list[str], list[str]]:
    """The companies and the common words of the CFPB data files at ``paths``."""
    companies: set[str] = set()
    lower, capitalised = Counter(), Counter()
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if company := row.get("Company", "").strip():
                    companies.add(company)
                text = row.get(NARRATIVE, "")
                for match in _WORD.finditer(text):
                    word = match.group()
                    if word.islower():
                        lower[word] += 1
                    elif word[0].isupper() and word[1:].islower():
                        before = text[:match.start()].rstrip()
                        if before and before[-1] not in _SENTENCE_START:
                            capitalised[word.lower()] += 1
    common = [word for word, n in lower.items()
              if len(word) > 1 and n >= MIN_LOWER and n >= LOWER_RATIO * capitalised[word]]
    return sorted(companies), sorted(common)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data_path(), help="folder of CFPB .csv.gz files")
    args = parser.parse_args()
    if args.data is None:
        raise SystemExit("the CFPB data is missing (see README, 'Data'): pass --data")
    companies, common = build(data_files(args.data))
    for name, lines in (("companies.txt", companies), ("common_words.txt", common)):
        (LEXICON_DIR / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{LEXICON_DIR / name}: {len(lines)} lines")


if __name__ == "__main__":
    main()
