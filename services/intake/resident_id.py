"""The PRC resident identity number (公民身份号码, GB 11643-1999).

Eighteen characters: a six-digit region code (GB/T 2260), the birth date as YYYYMMDD, a three-digit
sequence code whose last digit is odd for men and even for women, and a check character computed
with ISO 7064 MOD 11-2 over the first seventeen digits.

Everything here is pure: no clock is read unless a caller leaves `today` out of `birth_date_of`.
"""

from __future__ import annotations

import re
from operator import mul
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from contracts.pseudonyms import normalise_resident_id

ID_LENGTH = 18
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ZERO_OFFSET = ord("0") * sum(_WEIGHTS)
_CHECK_CHARACTERS = "10X98765432"
_WELL_FORMED = re.compile(r"[0-9]{17}[0-9X]")
# Separators that people paste between digit groups; zero-width ones survive NFKC.


class IdReason(StrEnum):
    """Stable reason codes for a rejected number; rejection events carry these verbatim."""

    LENGTH = "resident_id.length"
    FORMAT = "resident_id.format"
    CHECKSUM = "resident_id.checksum"
    BIRTH_DATE_INVALID = "resident_id.birth_date_invalid"
    BIRTH_DATE_MISMATCH = "resident_id.birth_date_mismatch"


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


@dataclass(frozen=True)
class IdProblem:
    code: IdReason
    message: str


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for seventeen ASCII digits."""
    if len(first17) != ID_LENGTH - 1 or not first17.isascii() or not first17.isdigit():
        raise ValueError("a check character needs exactly 17 ASCII digits")
    total = sum(map(mul, first17.encode(), _WEIGHTS)) - _ZERO_OFFSET  # byte values, less 48 per weight
    return _CHECK_CHARACTERS[total % 11]


def has_valid_checksum(id_number: str) -> bool:
    number = normalise_resident_id(id_number)
    return _is_well_formed(number) and check_character(number[:17]) == number[17]


def birth_date_of(id_number: str, today: date | None = None) -> date:
    """The birth date encoded in digits 7-14; `today` defaults to the system date.

    Raises ValueError when it is not a real calendar date, is before 1900 or is after today.
    """
    number = normalise_resident_id(id_number)
    if not _is_well_formed(number):
        raise ValueError("not an 18-character resident ID number")
    return _encoded_birth_date(number, today)


def _encoded_birth_date(number: str, today: date | None) -> date:
    """`birth_date_of` for a number already normalised and well formed."""
    digits = number[6:14]
    born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    if born < EARLIEST_BIRTH_DATE:
        raise ValueError(f"birth date {born.isoformat()} is before 1900")
    if born > (today or date.today()):
        raise ValueError(f"birth date {born.isoformat()} is in the future")
    return born


def sex_of(id_number: str) -> Sex:
    number = normalise_resident_id(id_number)
    if not _is_well_formed(number):
        raise ValueError("not an 18-character resident ID number")
    return Sex.MALE if int(number[16]) % 2 == 1 else Sex.FEMALE


def region_of(id_number: str) -> str:
    """The six-digit administrative division code of the place of first registration."""
    number = normalise_resident_id(id_number)
    if not _is_well_formed(number):
        raise ValueError("not an 18-character resident ID number")
    return number[:6]


def validate_resident_id(
    raw: str, stated_birth_date: date | None, today: date
) -> list[IdProblem]:
    """Every problem with the number, in a fixed order; an empty list means it is valid."""
    number = normalise_resident_id(raw)
    if len(number) != ID_LENGTH:
        return [_length_problem(number)]
    if not _is_well_formed(number):
        return [IdProblem(IdReason.FORMAT, "Expected 17 digits followed by a digit or X.")]
    problems: list[IdProblem] = []
    if check_character(number[:17]) != number[17]:
        problems.append(IdProblem(IdReason.CHECKSUM, "The check character does not match."))
    problems.extend(_birth_date_problems(number, stated_birth_date, today))
    return problems


def is_usable(id_number: str, today: date) -> bool:
    """Well formed, right check character, a real birth date by today: the number names a person
    (a stated birth date that disagrees is the department's slip, not the number's)."""
    number = normalise_resident_id(id_number)
    return _is_well_formed(number) and check_character(number[:17]) == number[17] and _birth_date_ok(number, today)


def single_edit_repairs(id_number: str, today: date) -> tuple[str, ...]:
    """Valid numbers one keying slip away from a well-formed number whose checksum fails.

    A slip is one wrong character or two neighbours swapped: MOD 11-2 catches both, so the true
    number is among these when that is what happened. Several repairs are normal, so a repair is
    a hint for linking, never an identification on its own.
    """
    number = normalise_resident_id(id_number)
    if not _is_well_formed(number) or has_valid_checksum(number):
        return ()
    edits = {*_substitutions(number), *_transpositions(number)}
    return tuple(sorted(e for e in edits if has_valid_checksum(e) and _birth_date_ok(e, today)))


def mask_resident_id(id_number: str) -> str:
    """First 6 and last 4 characters kept, the rest as '*'; short strings reveal less or nothing."""
    number = normalise_resident_id(id_number)
    length = len(number)
    head, tail = (6, 4) if length >= ID_LENGTH - 3 else (0, length // 4)
    return number[:head] + "*" * (length - head - tail) + number[length - tail :]


def _is_well_formed(number: str) -> bool:
    return _WELL_FORMED.fullmatch(number) is not None


def _length_problem(number: str) -> IdProblem:
    if len(number) == 15:
        message = "A 15-digit first-generation number is not accepted; 18 characters expected."
    else:
        message = f"Expected 18 characters, got {len(number)}."
    return IdProblem(IdReason.LENGTH, message)


def _birth_date_problems(
    number: str, stated_birth_date: date | None, today: date
) -> list[IdProblem]:
    try:
        encoded = _encoded_birth_date(number, today)
    except ValueError as error:
        return [IdProblem(IdReason.BIRTH_DATE_INVALID, f"Encoded birth date is invalid: {error}.")]
    if stated_birth_date is not None and stated_birth_date != encoded:
        message = (
            f"Stated birth date {stated_birth_date.isoformat()} differs from "
            f"{encoded.isoformat()} encoded in the number."
        )
        return [IdProblem(IdReason.BIRTH_DATE_MISMATCH, message)]
    return []


def _birth_date_ok(number: str, today: date) -> bool:
    try:
        birth_date_of(number, today)
    except ValueError:
        return False
    return True


def _substitutions(number: str) -> list[str]:
    alphabets = ["0123456789"] * 17 + ["0123456789X"]
    return [
        number[:i] + ch + number[i + 1 :]
        for i, alphabet in enumerate(alphabets)
        for ch in alphabet
        if ch != number[i]
    ]


def _transpositions(number: str) -> list[str]:
    return [
        number[:i] + number[i + 1] + number[i] + number[i + 2 :]
        for i in range(ID_LENGTH - 1)
        if number[i] != number[i + 1]
    ]
