"""Linking a record that has no valid resident ID number to a person the hub already knows.

A record is compared only with candidates that share a blocking key with it; each comparison
gives a score in [0, 1] from name, birth date and address, and `decide` turns the scores into a
link, a referral to a reviewer, or a new person. It never guesses: when two people fit about
equally well (twins at one address, namesakes born the same day), a person decides.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Protocol

from contracts.catalogue import DISTRICTS
from services.intake.names import (
    edit_ratio,
    matching_form,
    name_similarity,
    pinyin_keys,
    surname_of,
    to_simplified,
)

NAME_WEIGHT = 0.40
BIRTH_DATE_WEIGHT = 0.35
ADDRESS_WEIGHT = 0.25

AUTO_LINK_THRESHOLD = 0.88
REVIEW_THRESHOLD = 0.60
# The best candidate must lead the next person by this much; a homophone twin (0.96) does not.
AUTO_LINK_MARGIN = 0.08
MAX_REVIEW_CANDIDATES = 5

UNKNOWN_AGREEMENT = 0.5
# A missing date is not held against a record whose name and flat agree: namesakes rarely share a
# flat. Name and birth date without an address stay below auto-link: same-day namesakes are common.
MISSING_BIRTH_DATE_AGREEMENT = 0.7
BIRTH_DATE_SLIP_AGREEMENT = 0.7
# Different house numbers mean a different home however alike the street text is.
OTHER_NUMBERS_FACTOR = 0.5
OTHER_DISTRICT_FACTOR = 0.5
NUMBER_DISAGREES_FACTOR = 0.9

# Districts merged away since first-generation addresses were written (卢湾 2011, 闸北 2015...).
_FORMER_DISTRICTS = frozenset({"卢湾区", "闸北区", "南汇区", "崇明县"})
_DISTRICT_NAMES = tuple(
    sorted({d.name_zh for d in DISTRICTS.values()} | _FORMER_DISTRICTS, key=len, reverse=True)
)
_CITY_PREFIX = re.compile(r"^(?:中国)?上海市?")
_CHINESE_NUMBER = re.compile(r"[〇零一二三四五六七八九十两]+(?=[弄号室楼幢栋层])")
_DASH_AFTER_NUMBER = re.compile(r"(?<=[\d号])[-－—–~～](?=\d)")
_BUILDING_WORDS = (("号楼", "号"), ("幢", "号"), ("栋", "号"), ("#", "号"), ("號", "号"))
_DIGIT_VALUES = {ch: value for value, ch in enumerate("〇一二三四五六七八九")} | {"零": 0, "两": 2}


@dataclass(frozen=True)
class PersonRecord:
    """A person as one department's event describes them.

    `near_keys` are the person keys of `single_edit_repairs` of a number whose checksum failed:
    one of them is probably the person's, if the number was mistyped. `district` (a GB/T 2260
    code) is carried for the caller; scoring compares the district named in the address.
    """

    person_key: str | None
    name: str
    birth_date: date | None
    address: str
    district: str | None = None
    near_keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Candidate:
    """A known person under one of the names, birth dates and addresses they were seen with."""

    person_key: str
    name: str
    birth_date: date | None
    address: str


@dataclass(frozen=True)
class ScoredCandidate:
    candidate: Candidate
    score: float


@dataclass(frozen=True)
class Linked:
    person_key: str
    score: float


@dataclass(frozen=True)
class NeedsReview:
    candidates: tuple[ScoredCandidate, ...]


@dataclass(frozen=True)
class NewPerson:
    pass


LinkDecision = Linked | NeedsReview | NewPerson


class _Described(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def birth_date(self) -> date | None: ...
    @property
    def address(self) -> str: ...


@lru_cache(maxsize=65536)
def normalise_address(raw: str) -> str:
    """One written form of a Shanghai address, without the city; the district stays if given.

    浦东新区张杨路1234弄5号楼601室, 上海市浦东新区张杨路１２３４弄５-601 and
    浦东新区张杨路一二三四弄五号601 all become 浦东新区张杨路1234弄5号601.
    """
    text = to_simplified("".join(unicodedata.normalize("NFKC", raw).split()))
    text = _CITY_PREFIX.sub("", text)
    text = _CHINESE_NUMBER.sub(lambda m: str(_chinese_number_value(m.group())), text)
    for word, canonical in _BUILDING_WORDS:
        text = text.replace(word, canonical)
    text = _DASH_AFTER_NUMBER.sub("号", text).replace("号号", "号")
    return text.replace("室", "")


def split_district(address: str) -> tuple[str | None, str]:
    """The district name an address starts with, if any, and the rest of it."""
    normal = normalise_address(address)
    for district in _DISTRICT_NAMES:
        if normal.startswith(district):
            return district, normal[len(district) :]
    return None, normal


def address_key(address: str) -> str:
    """The address without city or district, for exact comparison in blocking."""
    return split_district(address)[1]


def address_similarity(a: str, b: str) -> float:
    district_a, rest_a = split_district(a)
    district_b, rest_b = split_district(b)
    if not rest_a or not rest_b:
        return UNKNOWN_AGREEMENT
    tokens_a, tokens_b = _address_tokens(rest_a), _address_tokens(rest_b)
    score = edit_ratio(tokens_a, tokens_b)
    if _numbers(tokens_a) != _numbers(tokens_b):
        score *= OTHER_NUMBERS_FACTOR
    if district_a and district_b and district_a != district_b:
        score *= OTHER_DISTRICT_FACTOR
    return score


def birth_date_agreement(a: date | None, b: date | None) -> float:
    """1.0 when equal, partial for one mistyped digit or day and month swapped, else 0."""
    if a is None or b is None:
        return MISSING_BIRTH_DATE_AGREEMENT
    if a == b:
        return 1.0
    if _one_digit_apart(a, b) or _day_month_swapped(a, b):
        return BIRTH_DATE_SLIP_AGREEMENT
    return 0.0


def match_score(record: PersonRecord, candidate: Candidate) -> float:
    score = (
        NAME_WEIGHT * name_similarity(record.name, candidate.name)
        + BIRTH_DATE_WEIGHT * birth_date_agreement(record.birth_date, candidate.birth_date)
        + ADDRESS_WEIGHT * address_similarity(record.address, candidate.address)
    )
    if not record.near_keys:
        return score
    if candidate.person_key in record.near_keys:
        # A one-slip repair of the record's own number is this person's: halve the doubt.
        return score + (1.0 - score) / 2
    # The number was probably one slip from someone else's: a homophone twin, for instance.
    return score * NUMBER_DISAGREES_FACTOR


def decide(
    record: PersonRecord,
    candidates: Iterable[Candidate],
    auto_link_threshold: float = AUTO_LINK_THRESHOLD,
    review_threshold: float = REVIEW_THRESHOLD,
    margin: float = AUTO_LINK_MARGIN,
) -> LinkDecision:
    """Link only a clear winner; refer any plausible candidates; otherwise a new person.

    A record that has a valid number already names its person and is linked to it.
    """
    if record.person_key is not None:
        return Linked(record.person_key, 1.0)
    ranked = _best_per_person(record, candidates)
    if not ranked:
        return NewPerson()
    runner_up = ranked[1].score if len(ranked) > 1 else 0.0
    if ranked[0].score >= auto_link_threshold and ranked[0].score - runner_up >= margin:
        return Linked(ranked[0].candidate.person_key, ranked[0].score)
    plausible = tuple(s for s in ranked if s.score >= review_threshold)
    if plausible:
        return NeedsReview(plausible[:MAX_REVIEW_CANDIDATES])
    return NewPerson()


def blocking_keys(record: PersonRecord | Candidate) -> set[str]:
    """Cheap keys that a record and its person's candidates share even with one field wrong.

    Name by sound with the full birth date survives a homophone slip; name by characters with
    the birth year or with month and day survives a slip in the date; name with the address
    survives a missing or wrong date; surname with the birth date survives any slip in the
    given name.
    """
    return _identity_keys(record) | _date_keys(record) | _address_keys(record)


class CandidateIndex:
    """Candidates by blocking key, in memory; a database table can take its place later."""

    def __init__(self) -> None:
        self._by_key: dict[str, dict[Candidate, None]] = {}

    def add(self, candidate: Candidate) -> None:
        for key in blocking_keys(candidate):
            self._by_key.setdefault(key, {})[candidate] = None

    def candidates_for(self, record: PersonRecord) -> list[Candidate]:
        found: dict[Candidate, None] = {}
        for key in sorted(blocking_keys(record)):
            found.update(self._by_key.get(key, {}))
        return list(found)

    def __len__(self) -> int:
        return len({c for block in self._by_key.values() for c in block})


def _best_per_person(
    record: PersonRecord, candidates: Iterable[Candidate]
) -> list[ScoredCandidate]:
    # One person may be known under several spellings; only their best fit competes.
    best: dict[str, ScoredCandidate] = {}
    for candidate in candidates:
        scored = ScoredCandidate(candidate, match_score(record, candidate))
        current = best.get(candidate.person_key)
        if current is None or scored.score > current.score:
            best[candidate.person_key] = scored
    return sorted(best.values(), key=lambda s: (-s.score, s.candidate.person_key))


def _identity_keys(record: PersonRecord | Candidate) -> set[str]:
    keys = {record.person_key} if record.person_key else set()
    if isinstance(record, PersonRecord):
        keys |= record.near_keys
    return {f"k:{key}" for key in keys}


def _date_keys(record: _Described) -> set[str]:
    born, form = record.birth_date, matching_form(record.name)
    if born is None or not form:
        return set()
    day = born.isoformat()
    return {
        *(f"pb:{reading}|{day}" for reading in pinyin_keys(form)),
        f"ny:{form}|{born.year}",
        f"nd:{form}|{born:%m%d}",
        f"sb:{surname_of(form)}|{day}",
    }


def _address_keys(record: _Described) -> set[str]:
    place, form = address_key(record.address), matching_form(record.name)
    if not place or not form:
        return set()
    return {f"na:{form}|{place}", *(f"pa:{reading}|{place}" for reading in pinyin_keys(form))}


def _address_tokens(address: str) -> list[str]:
    return re.findall(r"\d+|\D", address)


def _numbers(tokens: Sequence[str]) -> list[str]:
    return [token for token in tokens if token.isdigit()]


def _one_digit_apart(a: date, b: date) -> bool:
    return sum(x != y for x, y in zip(f"{a:%Y%m%d}", f"{b:%Y%m%d}", strict=True)) == 1


def _day_month_swapped(a: date, b: date) -> bool:
    return a.year == b.year and a.month == b.day and a.day == b.month


def _chinese_number_value(numeral: str) -> int:
    """一二三四 -> 1234 read digit by digit; 十五, 二十, 二十三 read with tens."""
    if "十" not in numeral:
        return int("".join(str(_DIGIT_VALUES[ch]) for ch in numeral))
    tens, _, units = numeral.partition("十")
    tens_value = _DIGIT_VALUES.get(tens[-1:], 1) if tens else 1
    return tens_value * 10 + _DIGIT_VALUES.get(units[:1], 0)
