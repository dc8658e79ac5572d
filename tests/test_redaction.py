import re

import pytest

from complaints.redaction import redact


@pytest.mark.parametrize("text, kind", [
    ("write to jane.doe+bank@example.co.uk today", "EMAIL"),
    ("call me on (555) 123-4567", "PHONE"),
    ("call me on 555.123.4567", "PHONE"),
    ("call me on +1 555 123 4567", "PHONE"),
    ("my card 4111 1111 1111 1111 was charged", "CARD"),
    ("card 4111-1111-1111-1111", "CARD"),
    ("ssn 123-45-6789", "SSN"),
    ("my social security number is 123456789", "SSN"),
    ("account number 12345678 is mine", "ACCOUNT"),
    ("acct #9876543", "ACCOUNT"),
    ("reference 1234567890", "ACCOUNT"),
])
def test_personal_data_is_replaced_by_its_kind(text, kind):
    redacted, counts = redact(text)
    assert f"[{kind}]" in redacted
    assert counts[kind] == 1
    assert not re.search(r"\d{4}", redacted)


def test_context_words_are_kept_and_only_the_number_goes():
    redacted, _ = redact("my account number 12345678 was closed")
    assert redacted == "my account number [ACCOUNT] was closed"


def test_cfpb_masks_amounts_and_years_are_left_alone():
    text = "On XX/XX/XXXX I paid {$1200.00} to XXXX XXXX in 2019, ending 1234."
    assert redact(text) == (text, {})
