"""Organisation rules: the credit code (python-stdnum's cn.uscc), phones, districts, keys."""

from __future__ import annotations

import pytest

from services.charity.organisations import credit_code, districts, issue_key, key_digest, looks_like_organisation_key, phone


def test_a_valid_credit_code_passes() -> None:
    assert credit_code("91110000600037341L") == "91110000600037341L"


@pytest.mark.parametrize(("code", "words"), [
    ("91110000600037341X", "check character does not match"),
    ("9111000060003734", "18 characters"),
    ("91110000600037341!", "characters"),
])
def test_wrong_credit_codes_say_what_is_wrong(code: str, words: str) -> None:
    with pytest.raises(ValueError, match="credit code") as caught:
        credit_code(code)
    assert words in str(caught.value)


def test_phones() -> None:
    assert phone("138 1234 5678") == "13812345678"
    assert phone("021-64001234") == "021-64001234"
    with pytest.raises(ValueError, match="11 digits"):
        phone("12345")


def test_districts_known_and_deduplicated() -> None:
    assert districts(["310105", "310104", "310104"]) == ["310104", "310105"]
    with pytest.raises(ValueError, match="unknown district"):
        districts(["310199"])


def test_keys_are_random_and_stored_as_digests() -> None:
    first, second = issue_key(), issue_key()
    assert first.secret != second.secret and first.key_id in first.secret
    assert key_digest(first.secret) == first.digest and first.secret not in first.digest
    assert looks_like_organisation_key(first.secret) and not looks_like_organisation_key("dev-staff-key")
