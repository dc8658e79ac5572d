"""What a capitalised span can be other than a person's name: a firm, or words people write in lower case.

spaCy's recogniser calls many firms and plain words a person ("Hunter Warfield", "Harris and Harris", "Law",
"Email"), and on the CFPB's narratives, whose consumers' names are masked already, nearly every name it finds
was one of these. A span it calls a person is no name when it overlaps a firm named in the text, or when each
of its words is a common word. The firms are those of the CFPB company list (``companies.txt``), the
trade names and card brands a bank knows (``brands.txt``, kept by hand) and the complaint's own ``Company``;
the common words are those the narratives write in lower case (``common_words.txt``). ``make
redaction-lexicon`` rebuilds the two generated lists from the data (tools/redaction_lexicon.py).

A firm is matched by its name without its legal form (cleanco: "Hunter Warfield, Inc." is "Hunter Warfield"),
"and" and "&" alike, and, where its name ends in words that say what kind of firm it is, by the rest
("Synchrony Financial" is also "Synchrony"; "Portfolio Recovery Associates" also "Portfolio Recovery"). That
shorter form is used from the company list only when it keeps two words or more: one word ("Johnson") is too
often a person's name; from the complaint's own Company, one word is enough ("Synchrony" in a complaint about
Synchrony Financial).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import re2
from cleanco import basename

LEXICON_DIR = Path(__file__).parent
# Words that say what kind of firm a name is; dropped from the end of a firm's name for its short form.
_KIND_OF_FIRM = frozenset("""acceptance associates association auto bancorp bancorporation bancshares bank bankers
capital co collection collections company corp corporation credit enterprises federal finance financial fsb funding
group holding holdings inc incorporated industries international lending llc llp loans ltd management marketplace
mortgage na national partners pc pllc savings service services servicing solutions systems technologies technology trust union usa
us""".split())
# One run of a character class: linear in Python's own engine too, whose matches are far cheaper to read than
# google-re2's (a narrative's words are read one by one here).
_WORD = re.compile(r"\w+")
_LETTERS = re2.compile(r"\p{L}+")

Firm = tuple[str, ...]  # a firm's words, lower case, without "and"
# A complaint's own Company is read up to here: every firm's name is far shorter, and a field of any length
# (intake caps a value at 65,536 characters) then costs no more than a short one.
_LONGEST_FIRM_CHARS = 200


def _words(name: str) -> Firm:
    """A firm's words in lower case, without "and", nor the "The" its listed name may end in ("HUNTINGTON NATIONAL
    BANK, THE")."""
    words = [word.lower() for word in _WORD.findall(name) if word.lower() != "and"]
    while len(words) > 1 and words[-1] == "the":
        words.pop()
    return tuple(words)


def firm_forms(company: str, short_single_word: bool) -> set[Firm]:
    """The word sequences that name ``company`` in a text: its name without legal form, and the short form."""
    company = company.strip()[:_LONGEST_FIRM_CHARS]
    words = _words(basename(company) or company)
    if not words:
        return set()
    short = list(words)
    while len(short) > 1 and short[-1] in _KIND_OF_FIRM:
        short.pop()
    forms = {words}
    if short[-1] not in _KIND_OF_FIRM and len(short) < len(words) and (len(short) > 1 or short_single_word):
        forms.add(tuple(short))
    return forms


def _lines(name: str) -> list[str]:
    text = (LEXICON_DIR / name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@functools.cache
def _companies() -> frozenset[str]:
    return frozenset(_lines("companies.txt"))


def is_listed_company(company: str) -> bool:
    """Whether ``company`` is a firm of the CFPB company list, word for word."""
    return company.strip() in _companies()


@functools.cache
def known_firms() -> frozenset[Firm]:
    firms = {form for company in _companies() for form in firm_forms(company, short_single_word=False)}
    firms |= {_words(brand) for brand in _lines("brands.txt")}
    return frozenset(firms)


@functools.cache
def _known_prefixes() -> frozenset[Firm]:
    return frozenset(_prefixes(known_firms()))


def _prefixes(firms) -> set[Firm]:
    return {firm[:n] for firm in firms for n in range(1, len(firm) + 1)}


@functools.cache
def common_words() -> frozenset[str]:
    return frozenset(_lines("common_words.txt"))


def firm_spans(text: str, company: str = "") -> list[tuple[int, int]]:
    """The ``(start, end)`` of every firm named in ``text``, from the lexicon or ``company`` (the complaint's own
    firm), each starting at a capitalised word."""
    firms, prefixes = known_firms(), _known_prefixes()
    own = firm_forms(company, short_single_word=True) if company.strip() else set()
    own_prefixes = _prefixes(own)
    words = [(match.start(), match.end(), word) for match in _WORD.finditer(text)
             if (word := match.group().lower()) != "and"]
    spans = []
    for i, (start, _, _) in enumerate(words):
        if not text[start].isupper():
            continue
        form: Firm = ()
        for j in range(i, len(words)):  # grow the form while some firm starts with it
            _, end, word = words[j]
            form += (word,)
            if form not in prefixes and form not in own_prefixes:
                break
            if form in firms or form in own:
                spans.append((start, end))
    return spans


def is_common(span: str) -> bool:
    """Whether every word of ``span`` is a common word ("Derogatory Record", "Law"): no person's name."""
    words = [word.lower() for word in _LETTERS.findall(span)]
    return bool(words) and all(word in common_words() for word in words)
