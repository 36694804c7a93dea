from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.pseudonyms import normalise_resident_id, person_key
from services.intake.resident_id import (
    IdProblem,
    IdReason,
    Sex,
    birth_date_of,
    check_character,
    has_valid_checksum,
    mask_resident_id,
    region_of,
    sex_of,
    single_edit_repairs,
    validate_resident_id,
)

TODAY = date(2025, 6, 30)
PUBLISHED_EXAMPLE = "11010519491231002X"  # the worked example of GB 11643-1999


def valid_number(region: str = "310115", born: str = "19800512", sequence: str = "123") -> str:
    first17 = region + born + sequence
    return first17 + check_character(first17)


def codes(problems: list[IdProblem]) -> list[IdReason]:
    return [problem.code for problem in problems]


def test_published_example_is_valid() -> None:
    assert check_character(PUBLISHED_EXAMPLE[:17]) == "X"
    assert validate_resident_id(PUBLISHED_EXAMPLE, date(1949, 12, 31), TODAY) == []


def test_generated_numbers_are_valid() -> None:
    for region in ("310101", "310115", "310151"):
        assert validate_resident_id(valid_number(region), date(1980, 5, 12), TODAY) == []


def test_lowercase_x_is_accepted() -> None:
    assert validate_resident_id(PUBLISHED_EXAMPLE.lower(), None, TODAY) == []
    assert normalise_resident_id("11010519491231002x") == PUBLISHED_EXAMPLE


def test_full_width_digits_and_spaces_are_normalised() -> None:
    full_width = "\u3000１１０１０５１９４９１２３１００２ｘ "
    assert normalise_resident_id(full_width) == PUBLISHED_EXAMPLE
    assert validate_resident_id(full_width, None, TODAY) == []


def test_spaces_between_digit_groups_are_ignored() -> None:
    assert normalise_resident_id(" 110105 19491231 002X\t") == PUBLISHED_EXAMPLE


@pytest.mark.parametrize("raw", ["", "1101051949123100", "11010519491231002X1", "110105491231002"])
def test_wrong_length(raw: str) -> None:
    assert codes(validate_resident_id(raw, None, TODAY)) == [IdReason.LENGTH]


@pytest.mark.parametrize("raw", ["1101051949123100XX", "11010519491231002A", "11O10519491231002X"])
def test_wrong_format(raw: str) -> None:
    assert codes(validate_resident_id(raw, None, TODAY)) == [IdReason.FORMAT]


def test_checksum_failure() -> None:
    wrong = PUBLISHED_EXAMPLE[:17] + "1"
    assert codes(validate_resident_id(wrong, None, TODAY)) == [IdReason.CHECKSUM]


@pytest.mark.parametrize("born", ["19800230", "19801301", "18991231", "20300101", "19800000"])
def test_invalid_birth_date(born: str) -> None:
    problems = validate_resident_id(valid_number(born=born), None, TODAY)
    assert codes(problems) == [IdReason.BIRTH_DATE_INVALID]


def test_birth_date_today_is_not_in_the_future() -> None:
    assert validate_resident_id(valid_number(born="20250630"), None, TODAY) == []


def test_stated_birth_date_mismatch() -> None:
    problems = validate_resident_id(valid_number(), date(1980, 5, 21), TODAY)
    assert codes(problems) == [IdReason.BIRTH_DATE_MISMATCH]
    assert "1980-05-21" in problems[0].message and "1980-05-12" in problems[0].message


def test_checksum_and_birth_date_problems_are_both_reported() -> None:
    number = valid_number(born="19800230")
    broken = number[:17] + ("0" if number[17] != "0" else "1")
    assert codes(validate_resident_id(broken, None, TODAY)) == [
        IdReason.CHECKSUM,
        IdReason.BIRTH_DATE_INVALID,
    ]


def test_reason_codes_are_stable_strings() -> None:
    assert {reason.value for reason in IdReason} == {
        "resident_id.length",
        "resident_id.format",
        "resident_id.checksum",
        "resident_id.birth_date_invalid",
        "resident_id.birth_date_mismatch",
    }


def test_parts_of_the_number() -> None:
    assert birth_date_of(PUBLISHED_EXAMPLE, TODAY) == date(1949, 12, 31)
    assert region_of(PUBLISHED_EXAMPLE) == "110105"
    assert sex_of(PUBLISHED_EXAMPLE) == Sex.FEMALE
    assert sex_of(valid_number(sequence="123")) == Sex.MALE


def test_birth_date_of_rejects_impossible_dates() -> None:
    with pytest.raises(ValueError):
        birth_date_of(valid_number(born="20240231"), TODAY)
    with pytest.raises(ValueError):
        birth_date_of(valid_number(born="18991231"), TODAY)
    with pytest.raises(ValueError):
        birth_date_of(valid_number(born="20250701"), TODAY)


def test_check_character_needs_17_digits() -> None:
    with pytest.raises(ValueError):
        check_character("1234")
    with pytest.raises(ValueError):
        check_character("１１０１０５１９４９１２３１００２")


def test_mask_keeps_region_and_last_four() -> None:
    assert mask_resident_id(PUBLISHED_EXAMPLE) == "110105********002X"
    assert mask_resident_id("11010519491231002x") == "110105********002X"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("", ""), ("123", "***"), ("12345678", "******78"), ("1234567890", "********90")],
)
def test_mask_short_strings_reveal_little(raw: str, masked: str) -> None:
    assert mask_resident_id(raw) == masked


def test_person_key_is_stable_and_normalised() -> None:
    key = person_key(PUBLISHED_EXAMPLE, b"secret")
    assert key.startswith("p_") and len(key) == 34
    assert int(key[2:], 16) >= 0
    assert person_key(" 11010519491231002x", b"secret") == key
    assert person_key("１１０１０５１９４９１２３１００２Ｘ", b"secret") == key


def test_person_key_depends_on_secret_and_number() -> None:
    key = person_key(PUBLISHED_EXAMPLE, b"secret")
    assert person_key(PUBLISHED_EXAMPLE, b"other secret") != key
    assert person_key(valid_number(), b"secret") != key


def test_person_key_needs_a_secret() -> None:
    with pytest.raises(ValueError):
        person_key(PUBLISHED_EXAMPLE, b"")


def test_single_edit_repairs_contain_the_true_number() -> None:
    true = valid_number()
    typo = true[:10] + ("7" if true[10] != "7" else "8") + true[11:]
    swapped = true[:14] + true[15] + true[14] + true[16:]
    assert true in single_edit_repairs(typo, TODAY)
    if swapped != true:
        assert true in single_edit_repairs(swapped, TODAY)
    assert all(has_valid_checksum(r) for r in single_edit_repairs(typo, TODAY))


def test_no_repairs_for_valid_or_malformed_numbers() -> None:
    assert single_edit_repairs(PUBLISHED_EXAMPLE, TODAY) == ()
    assert single_edit_repairs("12345", TODAY) == ()


digits17 = st.text(alphabet="0123456789", min_size=17, max_size=17)


@given(digits17)
def test_any_17_digits_with_their_check_character_pass_the_checksum(first17: str) -> None:
    number = first17 + check_character(first17)
    assert has_valid_checksum(number)
    assert IdReason.CHECKSUM not in codes(validate_resident_id(number, None, TODAY))


@given(digits17, st.integers(min_value=0, max_value=17), st.integers(min_value=1, max_value=10))
def test_changing_any_single_character_breaks_the_checksum(
    first17: str, position: int, shift: int
) -> None:
    number = first17 + check_character(first17)
    alphabet = "0123456789X" if position == 17 else "0123456789"
    current = alphabet.index(number[position])
    replacement = alphabet[(current + shift) % len(alphabet)]
    if replacement == number[position]:
        return
    changed = number[:position] + replacement + number[position + 1 :]
    assert not has_valid_checksum(changed)
    assert IdReason.CHECKSUM in codes(validate_resident_id(changed, None, TODAY))
