"""The RE2 rules of the redaction: every kind of personal data by pattern, names only after a cue.

Order is priority, and every pattern is an RE2 expression (linear time on any input; no backtracking).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import re2

from complaints.redaction.lexicon import common_words, is_common

_SP = r"[ \t\x{00A0}]"          # one space inside a number: space, tab, no-break space
_SEP = r"[ \t\x{00A0}.-]"       # one separator inside a number
_WRAP = r"[ \t\x{00A0}]*\r?\n[ \t\x{00A0}]*"  # a line break where a number wraps: "4111 1111\n1111 1111"
_SPACED_SEP = r"\s*[./-]?\s*"  # after a cue, a separator with spaces or a line break: "123 - 45 - 6789", "123/45/6789"
_PHONE_SEP = r"(?:" + _SEP + r"|" + _SP + r"+-" + _SP + r"+|-?" + _WRAP + ")"  # in a phone number, also " - "
_START = r"(?:^|[^0-9A-Za-z_])"  # RE2 has no lookbehind: a non-word character (kept) or the start
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
# a digit spelt out: "my PIN is four four two one"
_SPELT_DIGIT = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_HEX = r"[0-9A-Fa-f]{1,4}"
_AT = r"(?:\s*[\[(]\s*at\s*[\])]\s*|\s+at\s+)"      # "at" spelt out in an e-mail address: "john [at] gmail"
_DOT = r"(?:\s*[\[(]\s*dot\s*[\])]\s*|\s+dot\s+)"  # and "dot": "gmail dot com"
_MAIL_TLD = r"(?:com|net|org|edu|gov|us|io|info|co|uk|ca)"
# The mail services whose name after a spelt "at" makes an address of it: "jdoe at gmail.com" is one, "wrote at
# chase.com" a firm's web site
_MAIL_SERVICES = frozenset("""aol att bellsouth comcast cox earthlink gmail gmx hotmail icloud live mac mail me msn
outlook protonmail proton sbcglobal verizon yahoo ymail zoho""".split())
# The sites whose web address carries a user's name: "facebook.com/john.smith.1987", "linkedin.com/in/jsmith"
_SOCIAL_SITES = (r"(?:facebook|fb|instagram|twitter|x|tiktok|linkedin|youtube|github|snapchat|pinterest|reddit|threads"
                 r"|venmo|paypal|cash)")
# A site's own pages and the folders before a user's name, which name no user: "facebook.com/help", "x.com/search",
# "linkedin.com/in/"
_SITE_PAGES = frozenset("""about add ads business channel company events explore feed groups hashtag help home in intent
jobs legal login marketplace messages notifications pages policies privacy profile.php pub reel reels school search
settings share signup status terms user watch""".split())
# A name's word after a cue, written as names are (Okafor, O'Brien, Al-Farsi, Muñoz), or all in one case (OKAFOR,
# okafor, JOSÉ); a name in one case keeps it ("Mr. SMITH said" is a name of one word)
_TITLED = r"\p{Lu}\p{Ll}*(?:['-]?\p{Lu}?\p{Ll}+)+"
_UPPER = r"\p{Lu}[\p{Lu}'-]*\p{Lu}"
_LOWER = r"\p{Ll}[\p{Ll}'-]*\p{Ll}"
_WORD_END = r"(?:$|[^\p{L}\p{N}_])"  # RE2's \b is ASCII's: it would end "JOSÉ" before its "É"
# The particles inside a surname ("de la Cruz", "van der Berg", "bin Laden"), in any case
_PARTICLE = (r"(?i:de(?:" + _SP + r"+(?:la|los|las))?|del|della|van(?:" + _SP + r"+(?:der|den))?|von(?:" + _SP
             + r"+der)?|da|dos|di|du|le|la|bin|ibn|al|el)")
_TITLE_CUE = r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|MR|MRS|MS|DR)\.?" + _SP + "+"
_NAME_CUE = (r"(?i:\b(?:my\s+name\s+is|name\s*:|sincerely|yours\s+truly|regards|respectfully|signed|named|spoke\s+(?:to|with)"
             r"|thank\s+you|thanks))(?:,|\s+-)?\s+")
# A form's field that holds a person's name ("Name:", "Borrower :"), or a signature ("Signed,"); a firm's "Company
# Name :" is told apart by the word before it (_FIRM_FIELDS)
_FIELD_CUE = (r"(?i:\b(?:name|borrower|co-borrower|cardholder|card\s+holder|account\s+holder|customer|consumer"
              r"|applicant|debtor|complainant|co-?signer|co-applicant|spouse|beneficiary|executor|authorized\s+user)\s*:"
              r"|\bsigned\s*[,:])\s*")
# The cues after which a name in one case is taken: a title, a form's field, or those the writer's own name follows
# ("spoke with chase", "named IQ DATA" name firms; "signed eletronically" is no name)
_UNCASED_CUE = ("(?:" + _TITLE_CUE + r"|(?i:\b(?:my\s+name\s+is|sincerely|yours\s+truly|regards|respectfully|thank\s+you"
                r"|thanks))"
                r"(?:,|\s+-)?\s+|" + _FIELD_CUE + ")")
# A street's name: capitalised words or an ordinal (5th, 42nd); its city, state and ZIP code may follow
_STREET_WORD = r"(?:[A-Z][A-Za-z'-]*|[0-9]{1,3}(?:st|nd|rd|th|ST|ND|RD|TH))"
_CITY_STATE_ZIP = (r"(?:\.?,?\s+[A-Z][A-Za-z'.-]*(?:\s+[A-Z][A-Za-z'.-]*){0,2},?\s+(?:[A-Z]{2}|[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)"
                   r"\.?,?\s+[0-9]{5}(?:-[0-9]{4})?\b)")
# "221B", "100 N.", "123-45" (Queens), "12 1/2"; its unit may come first ("Apt 4, 12 Oak St")
_HOUSE = (r"(?:(?i:apt|apartment|unit|suite|ste)\.?\s*#?[0-9A-Za-z-]{1,6},?\s+)?[0-9]{1,6}(?:-[0-9]{1,5})?[A-Za-z]?"
          r"(?:\s+1/2)?(?:\s+(?:[NSEW]\.?|North|South|East|West))?")


def _one_case(words: int, initial: bool = False) -> str:
    """A name of ``words`` words all in capitals or all in lower case, an initial after its first where
    ``initial`` ("JOHN Q. SMITH")."""
    def run(word: str, letter: str) -> str:
        middle = "(?:" + _SP + "+" + letter + r"\.)?" if initial else ""
        return word + middle + "(?:" + _SP + "+" + word + f"){{{words - 1}}}"
    return "(?:" + run(_UPPER, r"\p{Lu}") + "|" + run(_LOWER, r"\p{Ll}") + ")"


def _surname_first() -> str:
    """A surname, a comma, then a given name, both written as names are or both in one case ("Okafor, Chidi",
    "SMITH, JOHN Q."): how a form or a signature may list a name."""
    def pair(word: str, letter: str) -> str:
        return word + "," + _SP + "*" + word + "(?:" + _SP + "+" + letter + r"\.?)?"
    return "(?:" + pair(_TITLED, r"\p{Lu}") + "|" + pair(_UPPER, r"\p{Lu}") + "|" + pair(_LOWER, r"\p{Ll}") + ")"


def _cue(match) -> str:
    """What a match holds before its item, in lower case: "name : " of "Name : SMITH"."""
    return match.string[match.start():match.start(match.re.groupindex["pii"])].lower()


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


def _dotted_card(match) -> str | None:
    """A card number in groups with stops between ("4111.1111.1111.1111"): 13-19 digits, as :func:`_card` reads
    them. Only stops: a run of regulations cited ("1006.14 1006.10 1006.26") is no number."""
    return _card(match) if 13 <= _digits(match.group("pii")) <= 19 else None


def _account(match) -> str | None:
    """A number after "account", "loan", "customer"...: 4 digits are enough after "#", "no" or "number", else 5 (a
    customer's only after a mark: "a customer 20 years"). Letters before it ("ABC123456") or a comma or bracket
    between ("account number, 123456") only after such a mark: "loan, 25000 dollars" is an amount."""
    marked = match.group("mark") or match.group("colon") in (":", "#")
    if not marked and _cue(match).startswith("customer"):
        return None
    if not marked and (match.group("colon") or not match.group("pii")[0].isdigit()):
        return None
    return "ACCOUNT" if _digits(match.group("pii")) >= (4 if marked else 5) else None


# Capitalised words that start sentences rather than names: "Dr. My card..." is no name.
_NOT_NAMES = frozenset("""a an and at but by for from he her his i in it my no not on or our she so the their then
they this to we when you your born call card date email phone please thank thanks xxxx am are is was were
have has had with who will would
mr mrs ms miss mx dr""".split())


# The words before "name:" that make it a firm's field: "Company Name : Stephens Michaels", "Account name : ALLY"
_FIRM_FIELDS = frozenset("""account accounts acct agency bank business collection collector collectors company creditor
creditors dealer dealership employer entity furnisher lender merchant original servicer store""".split())


def _firm_field(match) -> bool:
    """Whether the cue is a form's "name:" field that names a firm, by the word before it."""
    cue = _cue(match)
    if "name" not in cue or ":" not in cue:
        return False
    before = match.string[max(0, match.start() - 40):match.start()].split()
    return bool(before) and before[-1].lower().removesuffix("'s").removesuffix("s'") in _FIRM_FIELDS


def _name(match) -> str | None:
    first = match.group("pii").split()[0].lower()
    return None if first in _NOT_NAMES or _firm_field(match) else "NAME"


def _cued_name(match) -> str | None:
    """A name after a cue other than a title: no name where its every word is a common word ("Sincerely,
    Enclosures", "spoke with Customer Service"), unless the cue is the writer's own "my name is" or a form's
    "Name:" (the recogniser's names pass the same test, complaints/redaction/lexicon); nor where a word that follows
    names follows ("Thanks Respectfully Mr. XXXX")."""
    cue = _cue(match)
    pii = match.group("pii")
    if " is" not in cue and ":" not in cue and is_common(pii) or any(w.lower() in _NOT_NAMES for w in pii.split()[1:]):
        return None
    return _name(match)


def _uncased_name(match) -> str | None:
    """A name after a cue written all in capitals or all in lower case ("JOHN SMITH", "maria garcia"): one whose
    first word is no common word ("Sincerely, CUSTOMER SERVICE", "my name is listed"), nor a CFPB mask ("Ms
    XX/XX/XXXX"); a second word is a surname unless it is one that follows a name ("my name is maria and").
    A surname that is a common word ("JAMES BROWN") is taken whole: the first word says a name is there."""
    first, *rest = words = match.group("pii").lower().split()
    if first in _NOT_NAMES or first in common_words() or any("xx" in word for word in words) or _firm_field(match):
        return None
    return None if any(word in _NOT_NAMES for word in rest) else "NAME"


def _no_name(words: list[str], match) -> bool:
    """Whether a cued name in one case, its ``words`` in lower case, is none: a word of it follows names or is a
    CFPB mask, or its cue is a firm's field."""
    return any(word in _NOT_NAMES or "xx" in word for word in words) or _firm_field(match)


def _particle_name(match) -> str | None:
    """A name whose surname has particles ("Juan de la Cruz", "MR. VAN DER BERG"): none where a word of it follows
    names or is a CFPB mask, nor where its last word is a common word."""
    words = match.group("pii").lower().split()
    return None if _no_name(words, match) or words[-1] in common_words() else "NAME"


def _surname_first_name(match) -> str | None:
    """A surname first ("Name: SMITH, JOHN", "Sincerely, Okafor, Chidi"): no word of it one that follows names or
    a CFPB mask, nor a firm's field; and where the cue is not the writer's own "my name is" or a form's "Name:",
    a given name that is no common word ("Regards, Jane, Customer Service" lists no surname)."""
    cue = _cue(match)
    words = match.group("pii").replace(",", " ").lower().split()
    if _no_name(words, match):
        return None
    return "NAME" if " is" in cue or ":" in cue or words[1] not in common_words() else None


def _uncased_full_name(match) -> str | None:
    """Three words in one case after a cue ("DAVID LEE SMITH", "mary ann jones"): a name whose last word is no
    common word ("JOHN SMITH HERE" is a name of two)."""
    return None if match.group("pii").split()[-1].lower() in common_words() else _uncased_name(match)


# Words no street's name holds, and the words before a number that make it no house's: "2 TIMES IN COURT",
# "Chapter 7 Bankruptcy Court"
_NOT_IN_STREETS = frozenset("a an and at by for from in of on or the to with".split())
_NUMBERED = frozenset("article chapter part rule section title".split())


def _street_address(match) -> str | None:
    """A numbered street: none where a word of it is one no street's name holds, or where the number is a
    chapter's or a section's."""
    before = match.string[max(0, match.start() - 12):match.start()].split()  # an address's match is its item
    if before and before[-1].lower().strip("§.") in _NUMBERED:
        return None
    return None if any(word.lower() in _NOT_IN_STREETS for word in match.group("pii").split()) else "ADDRESS"


def _identity_document(match) -> str | None:
    """An identity document's number (licence, passport, ID card, Medicare, a vehicle's VIN): six characters or
    more, four of them digits ("license 2019" is a year)."""
    pii = match.group("pii")
    return "ID" if _digits(pii) >= 4 and sum(ch.isalnum() for ch in pii) >= 6 else None


def _iban(match) -> str | None:
    """An international bank account number (IBAN): country, check digits, then the account's letters and digits."""
    return "ACCOUNT" if _digits(match.group("pii")) >= 8 else None


def _spelt_email(match) -> str | None:
    """An address with "at" (and perhaps "dot") spelt out: bracketed ("[at]"), at a mail service ("jdoe at
    gmail.com"), or its name has a dot too ("john dot doe at gmail dot com"), since "wrote at chase dot com" is a
    firm's web site, not an address."""
    pii = match.group("pii").lower()
    name, _, domain = pii.partition(" at ")
    service = re2.match(r"[a-z0-9-]*", domain.strip()).group()
    return "EMAIL" if "[" in pii or "(" in pii or " dot " in name or service in _MAIL_SERVICES else None


def _handle(match) -> str | None:
    """A user's name on a social network or a payment app ("@jsmith87", "cash.app/$jsmith"): not a site's own page,
    nor a CFPB mask ("@XXXX")."""
    pii = match.group("pii").lower()
    return None if pii in _SITE_PAGES or "xx" in pii else "HANDLE"


def _credential(match) -> str | None:
    """A secret after its cue ("my PIN is 4821", "the pin number 9043"): a value with a digit, or, where the cue
    says what it is ("password: sunshine", "my login is jdoe", "password is Blue!Sky"), one with a symbol or a
    capital inside or a word no narrative writes in lower case. "The PIN was used", "my password was changed", the
    CFPB's "XXXX" and a form's next label ("PIN : DOB :") say no secret."""
    pii = match.group("pii")
    if not match.group("mark") and not match.group("said"):
        return None
    if any(ch.isdigit() for ch in pii):
        return "CREDENTIAL"
    label = match.string[match.end():match.end() + 8].lstrip().startswith(":")  # a bounded look: linear time
    if not match.group("said") or "xx" in pii.lower() or label:
        return None
    camel = any(a.islower() and b.isupper() for a, b in zip(pii, pii[1:]))
    if camel or any(not ch.isalnum() and ch not in "'-" for ch in pii[1:-1]):
        return "CREDENTIAL"
    return None if is_common(pii) or pii.lower() in _NOT_NAMES else "CREDENTIAL"


def _international(match) -> str | None:
    return "PHONE" if 8 <= _digits(match.group("pii")) <= 15 else None


def _spelt_number(match) -> str | None:
    """Digits spelt out after an SSN's or a PIN's cue ("my PIN is four four two one"): the cue says the kind."""
    cue = _cue(match)
    return "CREDENTIAL" if "pin" in cue or "passcode" in cue else "SSN"


def _plate(match) -> str | None:
    """A vehicle's licence plate ("plate number 7ABC123"): five to eight characters, letters and digits both ("gold
    plated 14k" is none), not a CFPB mask."""
    pii = match.group("pii")
    chars = [ch for ch in pii if ch.isalnum()]
    letters = sum(ch.isalpha() for ch in chars)
    return "ID" if 5 <= len(chars) <= 8 and letters and _digits(pii) and "xx" not in pii.lower() else None


def _app_handle(match) -> str | None:
    """A user's name after its app's name and "is" or ":" ("my Venmo is jsmith87", "venmo: jane.doe"): one with a
    digit, a stop or an underscore, or a word in lower case no narrative writes so ("my venmo is linked", "Venmo is
    Synchrony's" name none)."""
    pii = match.group("pii")
    if not any(ch.isdigit() or ch in "._" for ch in pii) and (not pii.islower() or is_common(pii)):
        return None
    return None if pii.lower() in _NOT_NAMES else _handle(match)


# A web address's query field and the kind of its value: "?email=jdoe%40gmail.com", "&user=jsmith87"
_QUERY_KINDS = {"email": "EMAIL", "mail": "EMAIL", "ssn": "SSN", "phone": "PHONE", "tel": "PHONE", "acct": "ACCOUNT",
                "account": "ACCOUNT", "name": "NAME", "fname": "NAME", "lname": "NAME", "firstname": "NAME",
                "lastname": "NAME", "dob": "DOB"}


def _query_value(match) -> str | None:
    """A value in a web address's query string whose field names personal data or a secret; user names, logins,
    tokens and passwords are credentials. A CFPB mask is none."""
    if "xx" in match.group("pii").lower():
        return None
    return _QUERY_KINDS.get(match.group("field").lower().replace("_", ""), "CREDENTIAL")


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
RULES: list[_Rule] = [
    # letters of any script ("josé@correo.es", "user@münchen.de"), and "@" as a web address encodes it ("%40")
    _rule("EMAIL", r"(?P<pii>[\p{L}\p{N}._%+'-]+\s?(?:@|%40)\s?[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,})"),
    # "@" written, its stops spaced or spelt: "JDOE @ GMAIL . COM", "jdoe@gmail dot com"
    _rule("EMAIL", r"(?i:(?P<pii>[a-z0-9._%+'-]+\s*@\s*[a-z0-9-]+(?:(?:\s*\.\s*|" + _DOT + r")[a-z0-9-]+)*"
          r"(?:\s*\.\s*|" + _DOT + ")" + _MAIL_TLD + r")\b)"),
    _rule("EMAIL", r"(?i:\b(?P<pii>[a-z0-9._%+-]+(?:" + _DOT + r"[a-z0-9_%+-]+)*" + _AT + r"[a-z0-9-]+(?:(?:\.|"
          + _DOT + r")[a-z0-9-]+)*(?:\.|" + _DOT + ")" + _MAIL_TLD + r")\b)", _spelt_email),
    _rule("HANDLE", r"(?i:\b(?:https?://)?(?:www\.|m\.|mobile\.)?" + _SOCIAL_SITES + r"\.(?:com|net|me|app)/"
          r"(?:(?:in|pub|u|user|add)/)?(?:profile\.php\?id=)?[@$]?)(?P<pii>[A-Za-z0-9][A-Za-z0-9._%-]*[A-Za-z0-9_])",
          _handle),
    _rule("HANDLE", r"(?:^|[^A-Za-z0-9._%+'@-])@(?P<pii>[A-Za-z][A-Za-z0-9._-]*[A-Za-z0-9_])", _handle),
    # a cash tag after its app's name: "my Cash App is $jsmith"
    _rule("HANDLE", r"(?i:\b(?:cash\s*app|cash\s*tag)\b)[^$\n]{0,40}\$(?P<pii>[A-Za-z][A-Za-z0-9_-]*[A-Za-z0-9_])",
          _handle),
    _rule("CREDENTIAL", r"[?&](?P<field>(?i:e?mail|user(?:_?name|_?id)?|login|uid|token|session(?:_?id)?|sid|auth"
          r"|pass(?:word)?|pwd|ssn|phone|tel|acct|account|f?name|l?name|first_?name|last_?name|dob))="
          r"(?P<pii>[^&#\s\"'<>\[\]]+)", _query_value),
    # after its app's name: "my Venmo is jsmith87", "instagram: jane.doe"
    _rule("HANDLE", r"(?i:\b(?:venmo|paypal|instagram|twitter|tiktok|snapchat)(?:\s+(?:handle|user\s*name|account|id))?"
          r"(?:\s+(?:is|was)\s+|\s*:\s*))@?(?P<pii>[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9_])", _app_handle),
    _rule("IP", r"(?:^|[^0-9A-Za-z_:.])(?P<pii>(?:" + _HEX + ":){7}" + _HEX
          + "|(?:" + _HEX + ":){1,6}(?::" + _HEX + "){1,6}"
          + "|::(?:" + _HEX + ":){0,5}" + _HEX + ")(?:$|[^0-9A-Za-z_:])"),
    _rule("IP", r"\b(?P<pii>(?:" + _OCTET + r"\.){3}" + _OCTET + r")\b"),
    # a date up to four short words after its cue: "DOB was listed as 07/04/1950", "born on the 3rd of March, 1950"
    _rule("DOB", r"(?i:\b(?:dob|d\.o\.b|date\s+of\s+birth|birth\s*date|birthday|born))"
          r"[^0-9A-Za-z]{0,4}(?:[A-Za-z]{1,8}[^0-9A-Za-z]{1,3}){0,4}"
          r"(?P<pii>[0-9]{1,2}[/.-][0-9]{1,2}[/.-](?:[0-9]{4}|[0-9]{2})|[0-9]{4}[/.-][0-9]{1,2}[/.-][0-9]{1,2}"
          r"|[0-9]{1,2} [0-9]{1,2} [0-9]{4}"
          r"|(?i:" + _MONTH + r")\.?\s+[0-9]{1,2}(?:st|nd|rd|th)?,?\s+[0-9]{4}"
          r"|[0-9]{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?i:" + _MONTH + r")\.?,?\s+[0-9]{4}"
          r"|[0-9]{1,2}-?(?i:" + _MONTH + r")-?(?:[0-9]{4}|[0-9]{2})"
          r"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?:19|20)?[0-9]{2})\b"),
    _rule("SSN", r"\b(?P<pii>[0-9]{3}-(?:" + _WRAP + ")?[0-9]{2}-(?:" + _WRAP + ")?[0-9]{4}"
          r"|[0-9]{3}(?:" + _SP + "|" + _WRAP + ")[0-9]{2}(?:" + _SP + "|" + _WRAP + r")[0-9]{4}"
          r"|[0-9]{3}\.[0-9]{2}\.[0-9]{4})\b"),
    _rule("SSN", r"(?i:\b(?:ssn|ss#|social\s+security(?:\s+(?:number|num|no|#))?))"
          r"[^0-9A-Za-z]{0,4}(?:(?:is|was|:)[^0-9A-Za-z]{1,3})?"
          r"(?P<pii>[0-9]{3}" + _SPACED_SEP + "[0-9]{2}" + _SPACED_SEP + r"[0-9]{4})\b"),
    # its last four, which banks ask to verify a caller: "last four of my social 6789", "SSN ending in 6789"
    _rule("SSN", r"(?i:\blast\s+(?:four|4)(?:\s+digits)?\s+of\s+(?:my\s+|the\s+|her\s+|his\s+)?(?:ssn|ss#|social)"
          r"|\b(?:ssn|social\s+security(?:\s+(?:number|no|#))?)\s+(?:ending(?:\s+(?:in|with))?|last\s+(?:four|4)))"
          r"(?i:[^0-9A-Za-z]{1,3}(?:security|number|no|digits|is|was|are|were)\b){0,3}[^0-9A-Za-z]{1,4}"
          r"(?P<pii>[0-9]{4})\b"),
    # digits spelt out after an SSN's or a PIN's cue: "my SSN is one two three...", "pin: four eight two one"
    _rule("SSN", r"(?i:\b(?:ssn|social\s+security(?:\s+(?:number|num|no|#))?|pin(?:\s+(?:number|code))?|passcode))"
          r"[^0-9A-Za-z]{0,4}(?:(?i:is|was|:)[^0-9A-Za-z]{1,3})?"
          r"(?P<pii>(?i:" + _SPELT_DIGIT + r"(?:[\s,-]+" + _SPELT_DIGIT + r"){3,10}))\b", _spelt_number),
    _rule("CREDENTIAL", r"(?i:\b(?:pin|password|passcode|passwd|security\s+code|user\s*name|user\s*id|login)\b)"
          r"(?P<mark>\s+(?i:(?:number|code|no)\b)|\s*#)?\s*(?P<said>(?i:is|was)\b|[:=])?\s*[\"'\x{201C}]?"
          r"(?P<pii>[0-9](?: [0-9]){3,7}\b|[^\s\[.,;:!?)\]\"'\x{201D}](?:[^\s]*[^\s.,;:!?)\]\"'\x{201D}])?)", _credential),
    # a card's security code or a one-time code: "cvv 123", "the OTP 482193" (a code, not a word, follows)
    _rule("CREDENTIAL", r"(?i:\b(?:cvv2?|cvc2?|csc|otp|one[\s-]time\s+(?:pass)?code|verification\s+code|security\s+code"
          r"|access\s+code)(?:\s+(?:number|code|no)\b|\s*#)?\s*(?:(?:is|was)\b|[:=])?)\s*(?P<pii>[0-9]{3,8})\b"),
    _rule("ACCOUNT", r"\b(?P<pii>[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){3,7}(?:[ ]?[A-Z0-9]{1,3})?)\b", _iban),
    _rule("CARD", r"\b(?P<pii>(?:[0-9](?:[ \t\x{00A0}-]| - |-?" + _WRAP + r")?){12,18}[0-9])\b", _card),
    _rule("CARD", r"\b(?P<pii>(?:[0-9]{4,6}\.){2,4}[0-9]{1,5})\b", _dotted_card),
    _rule("ACCOUNT", r"(?i:\b(?:account|acct|a/c|loan|routing|member(?:ship)?|policy|checking|savings|customer))\.?"
          r"(?P<mark>\s*(?i:number|num|nbr|no|#|id))?\.?\s*(?P<colon>[:#,(])?\s*(?:(?i:is|was)\s+)?"
          r"(?P<pii>(?:[A-Z]{1,4}-?)?[0-9]{1,20}(?:[ -][0-9]{1,20}|-?" + _WRAP + r"[0-9]{3,20}){0,5})\b", _account),
    # an extension may follow with no space ("555-234-5678x123"); a dash may have spaces round it ("555 - 234 - 5678")
    # or the seven digits together after an area code in brackets ("(555)2345678")
    _rule("PHONE", r"(?:^|[^0-9A-Za-z_+])(?P<pii>(?:\+?1" + _SEP + r"?)?(?:(?:\([0-9]{3}\)(?:" + _SP + "?-?" + _SP + "?)|"
          r"[0-9]{3}" + _PHONE_SEP + ")[0-9]{3}" + _PHONE_SEP + r"[0-9]{4}|\([0-9]{3}\)" + _SP + r"?[0-9]{7}))"
          r"(?:\b|(?i:x|ext)\.?[0-9])"),
    _rule("PHONE", _START + r"(?P<pii>\+[1-9][0-9]{0,2}(?:" + _SEP + r"?\(?[0-9]{1,5}\)?){2,6})\b",
          _international),
    _rule("PHONE", r"(?i:\b(?:phone|tel|telephone|cell|cellphone|mobile|fax|call\s+me|text\s+me|reach\s+me))"
          r"[^0-9A-Za-z]{0,4}(?:(?:number|num|no|is|at|on|:)[^0-9A-Za-z]{1,3}){0,3}(?P<pii>1?[0-9]{10}|[0-9]{3}" + _SP + r"[0-9]{7})\b"),
    # a numbered road ("1234 County Road 56", "88 State Route 9") and a rural route's box ("RR 2 Box 15")
    _rule("ADDRESS", r"\b(?P<pii>" + _HOUSE + r"(?:\s+" + _STREET_WORD + "){0,2}"
          r"\s+(?i:county\s+(?:road|rd)|state\s+(?:route|road|highway|hwy)|u\.?s\.?\s+(?:highway|hwy|route)|highway|hwy"
          r"|route|rte|farm\s+to\s+market\s+road|fm|cr|sr)\s+[0-9]{1,5}[A-Za-z]?\b" + _CITY_STATE_ZIP + "?)",
          _street_address),
    _rule("ADDRESS", r"\b(?P<pii>(?i:rural\s+route|r\.?\s?r\.?|highway\s+contract|h\.?\s?c\.?|star\s+route)\s*#?\s*[0-9]{1,4},?"
          r"\s+(?i:box)\s+#?[0-9]{1,6}\b" + _CITY_STATE_ZIP + "?)"),
    _rule("ADDRESS", r"\b(?P<pii>" + _HOUSE + r"(?:\s+" + _STREET_WORD + "){1,4}"
          r"\s+(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace"
          r"|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Trail|Square|Loop|Crescent|Pike|Plaza|Alley|Cove|Point|Pt"
          r"|STREET|ST|AVENUE|AVE|ROAD|RD|BOULEVARD|BLVD|LANE|LN|DRIVE|DR|COURT|CT|WAY|PLACE|PL|TERRACE|CIRCLE|CIR"
          r"|PARKWAY|PKWY|HIGHWAY|HWY|TRAIL|LOOP|CRESCENT|PIKE|PLAZA|ALLEY|COVE|POINT|PT)\b"
          r"(?:\.?\s+(?:NW|NE|SW|SE)\b)?(?:\.?,?\s+(?i:apt|apartment|unit|suite|ste|#)\.?\s*[0-9A-Za-z-]{1,6}\b)?"
          + _CITY_STATE_ZIP + "?)", _street_address),
    # no street kind, but its city, state and ZIP code: "4521 Broadway, New York, NY 10040"
    _rule("ADDRESS", r"\b(?P<pii>" + _HOUSE + r"(?:\s+" + _STREET_WORD + "){1,4}" + _CITY_STATE_ZIP + ")",
          _street_address),
    _rule("ADDRESS", r"\b(?P<pii>(?i:p\.?\s?o\.?\s?box|post\s+office\s+box)\s+[0-9]{1,6}\b" + _CITY_STATE_ZIP + "?)"),
    _rule("NAME", _UNCASED_CUE + "(?P<pii>" + _surname_first() + ")" + _WORD_END, _surname_first_name),
    # a surname with particles, after a title or a cue the writer's own name follows: "Mr. de la Cruz"
    _rule("NAME", _UNCASED_CUE + r"(?P<pii>(?:\p{L}[\p{L}'-]*" + _SP + "+){0,2}" + _PARTICLE + _SP
          + r"+\p{L}[\p{L}'-]*\p{L})" + _WORD_END, _particle_name),
    _rule("NAME", _TITLE_CUE + r"(?P<pii>" + _TITLED + "(?:" + _SP + "+" + _TITLED + ")?)", _name),
    _rule("NAME", _NAME_CUE + r"(?P<pii>(?:\p{Lu}\." + _SP + "*)?" + _TITLED + "(?:" + _SP + r"+\p{Lu}\.)?(?:" + _SP
          + "+" + _TITLED + "){0,2})", _cued_name),
    # all capitals or all lower case: three words, else two, else one (a word that follows names, "and", "was",
    # ends it)
    _rule("NAME", _UNCASED_CUE + "(?P<pii>" + _one_case(3) + ")" + _WORD_END, _uncased_full_name),
    _rule("NAME", _UNCASED_CUE + "(?P<pii>" + _one_case(2, initial=True) + ")" + _WORD_END, _uncased_name),
    _rule("NAME", _UNCASED_CUE + "(?P<pii>" + _one_case(1) + ")" + _WORD_END, _uncased_name),
    _rule("ID", r"(?i:\b(?:driver'?s?\s+licen[cs]e|drivers?\s+lic|licen[cs]e|dl|passport|id|identification|itin|ein"
          r"|vin|medicare|medicaid|alien(?:\s+registration)?|a-number|uscis|green\s+card|permanent\s+resident\s+card))"
          r"(?:\s*(?i:number|num|nbr|no|#))?\.?\s*[:#]?\s*(?:(?i:is|was)\s+)?"
          r"(?P<pii>[A-Za-z]{0,3}[0-9][0-9A-Za-z-]{3,18})\b", _identity_document),
    _rule("ID", r"(?i:\b(?:licen[cs]e\s+plate|plate)(?:\s*(?:number|num|no|#))?|\btag\s*(?:number|num|no|#))\.?\s*[:#]?\s*"
          r"(?:(?i:is|was)\s+)?(?P<pii>[A-Za-z0-9]{1,4}[ -]?[A-Za-z0-9]{1,4})\b", _plate),
    _rule("PHONE", r"\b(?P<pii>[0-9]{3}-[0-9]{4})\b"),
    _rule("ACCOUNT", r"\b(?P<pii>[0-9]{8,})\b"),
]


def rule_spans(text: str) -> list[tuple[int, int, str]]:
    """The items the RE2 rules find: a match is dropped where any of it, context included, lies in an item an
    earlier rule found. Linear in ``len(text)``: each pattern scans it once, overlaps are checked on a byte mask."""
    taken = bytearray(len(text))
    spans: list[tuple[int, int, str]] = []
    for rule in RULES:
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
