"""A labelled PII set: real CFPB narratives with synthetic personal data inserted at known spans.

``build_cases`` takes a deterministic sample of narratives and, into each, inserts one item of every kind
(generated values, several formats per kind, each in a sentence of its own at a sentence boundary); names
come twice, after a cue ("Mr.", "my name is": ``NAME``) and in free text without one (``NAME_NO_CUE``).
``measure`` runs a span finder over them and reports, per kind, the recall (an item counts as found when
every letter and digit of it is inside a redacted span, of any kind) and the share of the untouched text
that was changed anyway (false positives): on the original narratives and on the characters of the
labelled texts outside the inserted items. Run ``python testing/pii_cases.py`` for the table comparing the
RE2 rules alone with the Presidio engine (rules and spaCy's named-entity recogniser).
"""

from __future__ import annotations

import csv
import gzip
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

DATA = (Path(__file__).resolve().parents[1] / "../shared/data/cfpb/complaints.csv.gz").resolve()
NARRATIVE = "Consumer complaint narrative"

FIRST = ["James", "Maria", "Robert", "Linda", "Michael", "Aisha", "David", "Nguyen", "Sarah", "Carlos", "Emily",
         "Wei", "Patricia", "Ahmed", "Jennifer", "Luis"]
LAST = ["Smith", "Garcia", "Johnson", "Williams", "Okafor", "Brown", "Martinez", "Kowalski", "Patel", "Davis",
        "Rodriguez", "Chen", "Miller", "Hernandez", "O'Brien", "Thompson"]
STREETS = ["Maple", "Oak", "Pine", "Cedar", "Elm", "Washington", "Lake", "Hill", "Sunset", "Park", "Main",
           "Martin Luther King"]
SUFFIXES = ["Street", "St", "Avenue", "Ave", "Road", "Rd", "Drive", "Dr", "Lane", "Blvd", "Court", "Way"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def _luhn_complete(prefix: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(prefix)):
        n = int(ch)
        if i % 2 == 0:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return prefix + str((10 - total % 10) % 10)


def _d(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _ssn(rng):
    a, b, c = f"{rng.randint(101, 899)}", f"{rng.randint(10, 99)}", f"{rng.randint(1000, 9999)}"
    return rng.choice([
        ("My SSN is {}.", f"{a}-{b}-{c}"), ("Social security number {} was used.", f"{a} {b} {c}"),
        ("They listed {} as my number.", f"{a}.{b}.{c}"), ("My social security number is {}.", f"{a}{b}{c}"),
        ("The form showed {}.", f"{a}-{b}-{c}"), ("SSN: {}.", f"{a} {b} {c}")])


def _phone(rng):
    a, b, c = rng.randint(201, 989), rng.randint(200, 999), _d(rng, 4)
    return rng.choice([
        ("Call me at {}.", f"({a}) {b}-{c}"), ("My number is {}.", f"{a}-{b}-{c}"), ("Reach me on {}.", f"{a}.{b}.{c}"),
        ("They called from {}.", f"+1 {a} {b} {c}"), ("The branch number is {}.", f"{b}-{c}"),
        ("My cell is {}.", f"+44 20 {_d(rng, 4)} {_d(rng, 4)}"), ("My family abroad: {}.", f"+91 98{_d(rng, 3)} {_d(rng, 5)}"),
        ("Phone: {}.", f"{a}{b}{c}"), ("I was called from {}.", f"1-800-{b}-{c}"), ("Text me at {}.", f"{a} {b} {c}")])


def _card(rng):
    number = _luhn_complete(rng.choice(["4", "51", "55", "6011"]) + _d(rng, 15 - len("4")))[:16]
    number = _luhn_complete(number[:15])
    amex = _luhn_complete("37" + _d(rng, 12))
    return rng.choice([
        ("My card {} was charged twice.", " ".join(number[i:i + 4] for i in range(0, 16, 4))),
        ("Card number {}.", "-".join(number[i:i + 4] for i in range(0, 16, 4))),
        ("The charge on {} is wrong.", number), ("My Amex {} was declined.", f"{amex[:4]} {amex[4:10]} {amex[10:]}"),
        ("My card number is {} and", " ".join(number[i:i + 4] for i in range(0, 12, 4)) + "\n" + number[12:])])


def _account(rng):
    return rng.choice([
        ("My acct {} is affected.", f"{_d(rng, 4)} {_d(rng, 4)} {_d(rng, 4)}"), ("Regarding loan # {}.", _d(rng, 4)),
        ("Account number {} was closed.", _d(rng, 8)), ("My account #: {}.", _d(rng, 10)),
        ("Loan {} was sold.", _d(rng, 7)), ("Routing number {}.", _d(rng, 9)),
        ("The reference was {}.", _d(rng, 12)),
        ("My IBAN is {}.", f"DE{_d(rng, 2)} {_d(rng, 4)} {_d(rng, 4)} {_d(rng, 4)} {_d(rng, 4)} {_d(rng, 2)}"),
        ("Wire it to {}.", f"GB{_d(rng, 2)}NWBK{_d(rng, 14)}")])


def _email(rng):
    first, last = rng.choice(FIRST).lower(), rng.choice(LAST).lower().replace("'", "")
    domain = rng.choice(["gmail.com", "yahoo.com", "example.co.uk", "mail.example.org"])
    return rng.choice([("Email me at {}.", f"{first}.{last}@{domain}"), ("My e-mail: {}.", f"{first}{_d(rng, 2)}@{domain}"),
                       ("Write to {}.", f"{first.title()}_{last.title()}@{domain.upper()}"),
                       ("Reply to {} please.", f"{first}{_d(rng, 2)} @ {domain}"),
                       ("My email is {}.", f"{first} [at] {domain.split('.')[0]} [dot] com"),
                       ("Email me: {}.", f"{first} dot {last} at gmail dot com")])


def _dob(rng):
    y, m, d = rng.randint(1935, 2000), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice([
        ("My DOB is {}.", f"{m:02d}/{d:02d}/{y}"), ("I was born on {}.", f"{MONTHS[m - 1]} {d}, {y}"),
        ("Date of birth: {}.", f"{y}-{m:02d}-{d:02d}"), ("Born {}.", f"{d} {MONTHS[m - 1]} {y}"),
        ("DOB {} on the form.", f"{m}/{d}/{y % 100:02d}")])


def _ip(rng):
    v4 = ".".join(str(rng.randint(1, 254)) for _ in range(4))
    v6 = ":".join(f"{rng.randint(0, 65535):x}" for _ in range(8))
    short = f"2001:db8::{rng.randint(1, 65535):x}"
    return rng.choice([("I logged in from {}.", v4), ("Their log shows IP {}.", v4), ("The address was {}.", v6),
                       ("Login from {} was not me.", short)])


def _address(rng):
    n, street, suffix = rng.randint(1, 9999), rng.choice(STREETS), rng.choice(SUFFIXES)
    return rng.choice([("I live at {}.", f"{n} {street} {suffix}"), ("Mail went to {}.", f"{n} N {street} {suffix}, Apt {rng.randint(1, 40)}"),
                       ("My address is {}.", f"{n} {street} {suffix}"), ("Send it to {}.", f"PO Box {rng.randint(1, 9999)}"),
                       ("We moved to {} last year.", f"{n} {street} {suffix} Unit {rng.randint(1, 40)}"),
                       ("Statements go to {}.", f"P.O. Box {rng.randint(1, 9999)}"),
                       ("I moved to {} in XXXX.", f"{n} W {rng.randint(1, 99)}{rng.choice(['st', 'nd', 'rd', 'th'])} {suffix}"),
                       ("The letter went to {} instead.", f"{n} {street} {suffix}, Springfield, IL {_d(rng, 5)}")])


def _name(rng):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return rng.choice([("My name is {}.", f"{first} {last}"), ("I spoke to Mr. {}.", last), ("Sincerely, {}", f"{first} {last}"),
                       ("A representative named {} was rude.", f"{first} {last}"),
                       ("Sincerely, {}", f"{first} {last}".upper()), ("hi my name is {} and", f"{first} {last}".lower()),
                       ("Name: {}\nLoan: student", f"{last}, {first}".upper())])


def _identity_document(rng):
    return rng.choice([
        ("My driver's license number is {}.", f"{rng.choice('ABDFGKMS')}{_d(rng, 7)}"), ("DL# {} was on file.", _d(rng, 9)),
        ("They copied my passport {}.", _d(rng, 9)), ("State ID: {}.", f"{rng.choice('ABDFGKMS')}{_d(rng, 3)}-{_d(rng, 4)}")])


def _credential(rng):
    first, last = rng.choice(FIRST).lower(), rng.choice(LAST).lower().replace("'", "")
    return rng.choice([("My PIN is {}.", _d(rng, 4)), ("My password: {} was stolen.", f"{last.title()}{_d(rng, 4)}!"),
                       ("My user name is {} and", f"{first[0]}{last}{_d(rng, 2)}"),
                       ("The password was {} until they changed it.", rng.choice(["sunshine", "bluebird", "Tr0ub4dor"])),
                       ("Login: {}.", f"{first}.{last}")])


def _handle(rng):
    first, last = rng.choice(FIRST).lower(), rng.choice(LAST).lower().replace("'", "")
    return rng.choice([("Their agent wrote to facebook.com/{} twice.", f"{first}.{last}.{_d(rng, 2)}"),
                       ("My Instagram is @{} if needed.", f"{first}{last}{_d(rng, 2)}"),
                       ("I paid them on Venmo @{}.", f"{first.title()}-{last.title()}-{_d(rng, 2)}"),
                       ("My profile https://www.linkedin.com/in/{} shows it.", f"{first}{last}"),
                       ("They sent it to my Cash App ${}.", f"{first}{last}")])


def _name_no_cue(rng):
    """A name in free text with no cue before it ("Mr.", "my name is"): only a named-entity recogniser finds it."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return rng.choice([("{} answered my call.", f"{first} {last}"), ("I called again and {} hung up on me.", first),
                       ("The manager, {}, never called back.", f"{first} {last}"),
                       ("My husband {} and I paid every month.", first),
                       ("Please ask {} about it.", f"{first} {rng.choice('ABCDEJKLMRST')}. {last}"),
                       ("{} told me the fee would be waived.", last)])


GENERATORS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "SSN": _ssn, "PHONE": _phone, "CARD": _card, "ACCOUNT": _account, "EMAIL": _email, "DOB": _dob, "IP": _ip,
    "ADDRESS": _address, "ID": _identity_document, "CREDENTIAL": _credential, "HANDLE": _handle, "NAME": _name,
    "NAME_NO_CUE": _name_no_cue}


@dataclass
class Case:
    original: str
    text: str
    items: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, kind) in text


def narratives(n: int = 300, seed: int = 7, path: Path = DATA) -> list[str]:
    """A deterministic sample of ``n`` non-empty narratives from the CFPB sample."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = [row[NARRATIVE] for row in csv.DictReader(handle) if row.get(NARRATIVE, "").strip()]
    return random.Random(seed).sample(rows, min(n, len(rows)))


def build_cases(texts: list[str], seed: int = 7) -> list[Case]:
    """Each narrative with one item of every kind inserted, in random order, at sentence boundaries."""
    rng = random.Random(seed)
    cases = []
    for original in texts:
        bounds = [i + 2 for i in range(len(original) - 2) if original[i] in ".!?" and original[i + 1] == " "]
        kinds = list(GENERATORS)
        rng.shuffle(kinds)
        inserts = sorted((rng.choice(bounds) if bounds else len(original), kind) for kind in kinds)
        text, items, last = "", [], 0
        for at, kind in inserts:
            template, value = GENERATORS[kind](rng)
            text += original[last:at]
            if text and not text.endswith(" "):
                text += " "
            before, after = template.split("{}")
            start = len(text) + len(before)
            text += before + value + after + " "
            items.append((start, start + len(value), kind))
            last = at
        text += original[last:]
        cases.append(Case(original, text, items))
    return cases


@dataclass
class Scores:
    found: dict[str, int]
    total: dict[str, int]
    changed_original: float  # share of the original narratives' characters inside a redacted span
    changed_untouched: float  # the same, over the labelled texts' characters outside the inserted items
    per_template: dict[str, list[int]]

    def recall(self, kind: str) -> float:
        return self.found[kind] / self.total[kind]


def table(engines: dict[str, Scores]) -> str:
    """A markdown table of recall per kind, then the untouched text changed, one column per engine."""
    names = list(engines)
    lines = ["| kind | items | " + " | ".join(f"{name} recall" for name in names) + " |",
             "|---|---:|" + "---:|" * len(names)]
    first = engines[names[0]]
    for kind in GENERATORS:
        lines.append(f"| {kind} | {first.total[kind]} | "
                     + " | ".join(f"{scores.recall(kind):.1%}" for scores in engines.values()) + " |")
    lines.append("| untouched characters changed (labelled texts) | | "
                 + " | ".join(f"{scores.changed_untouched:.3%}" for scores in engines.values()) + " |")
    lines.append("| characters changed (original narratives) | | "
                 + " | ".join(f"{scores.changed_original:.3%}" for scores in engines.values()) + " |")
    return "\n".join(lines)


def measure(cases: list[Case], spans_of: Callable[[str], list[tuple[int, int, str]]]) -> Scores:
    """Recall per kind and false-positive shares of a span finder (``complaints.redaction.pii_spans``)."""
    found = dict.fromkeys(GENERATORS, 0)
    total = dict.fromkeys(GENERATORS, 0)
    per_template: dict[str, list[int]] = {}
    changed_original = chars_original = changed_untouched = chars_untouched = 0
    for case in cases:
        covered = bytearray(len(case.text))
        for start, end, _ in spans_of(case.text):
            covered[start:end] = b"\x01" * (end - start)
        inserted = bytearray(len(case.text))
        for start, end, kind in case.items:
            inserted[start:end] = b"\x01" * (end - start)
            total[kind] += 1
            sensitive = [i for i in range(start, end) if case.text[i].isalnum()]
            hit = all(covered[i] for i in sensitive)
            found[kind] += hit
            key = f"{kind}: {_shape(case.text[start:end])}"
            per_template.setdefault(key, [0, 0])
            per_template[key][0] += hit
            per_template[key][1] += 1
        outside = [i for i in range(len(case.text)) if not inserted[i]]
        chars_untouched += len(outside)
        changed_untouched += sum(covered[i] for i in outside)
        chars_original += len(case.original)
        changed_original += sum(end - start for start, end, _ in spans_of(case.original))
    return Scores(found, total, changed_original / chars_original, changed_untouched / chars_untouched,
                  per_template)


def _shape(value: str) -> str:
    shape = "".join("9" if c.isdigit() else "a" if c.islower() else "A" if c.isupper() else c for c in value)
    out = []
    for c in shape:  # collapse runs: 999-99-9999 stays, "Aaaaa" -> "Aa+"
        if out and c in "aA9" and out[-1] in (c, c + "+"):
            out[-1] = c + "+"
        else:
            out.append(c)
    return "".join(out)


if __name__ == "__main__":
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from complaints.redaction import pii_spans
    from complaints.redaction.rules import rule_spans
    cases = build_cases(narratives())
    engines = {"RE2 rules": measure(cases, rule_spans), "Presidio + spaCy": measure(cases, pii_spans)}
    print(table(engines))
    for name, scores in engines.items():
        for key, (hit, n) in sorted(scores.per_template.items()):
            if hit < n:
                print(f"  {name}: missed {n - hit:>3}/{n:<3} {key}")
