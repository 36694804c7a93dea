"""Realistic department events for intake's tests and benchmark: households with valid resident
ID numbers, then needs and benefits for them, and invalid events in ten different ways, each
with the reason code intake must give. Deterministic for a given seed."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from contracts.catalogue import DISTRICTS
from services.intake.resident_id import check_character

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤单仇朴解区"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰文斌辉宇浩然欣怡子涵梓轩雨萱佳琪"
STREETS = ("张杨路", "浦东南路", "长寿路", "四平路", "虹桥路", "南京西路", "曹杨路", "共和新路", "莲花路", "沪闵路")
DISTRICT_CODES = tuple(DISTRICTS)
PROGRAMMES_OF = {
    "CA": ("DIBAO", "TEMPORARY", "GRAIN_OIL", "COMMUNITY_AID"),
    "HRSS": ("EMPLOYMENT",),
    "HEALTH": ("MEDICAL",),
    "EDU": ("EDUCATION",),
    "HOUSING": ("RENTAL_HOUSING", "HOUSE_REPAIR"),
    "DPF": ("SEVERE_DISABILITY",),
    "UNION": ("UNION_HARDSHIP",),
}


def resident_id(rng: random.Random, born: date, male: bool) -> str:
    sequence = f"{rng.randrange(0, 100):02d}{rng.choice('13579' if male else '02468')}"
    first17 = f"{rng.choice(DISTRICT_CODES)}{born:%Y%m%d}{sequence}"
    return first17 + check_character(first17)


def bad_checksum(number: str) -> str:
    wrong = "0" if number[-1] != "0" else "1"
    return number[:-1] + wrong


@dataclass
class Household:
    ref: str
    district: str
    address: str
    members: list[dict[str, Any]]


@dataclass(frozen=True)
class Sample:
    """One event as bytes, with what intake must make of it."""

    value: bytes
    ref: str
    expected: str  # "accepted" or the reason code of the rejection


class EventFactory:
    def __init__(self, department: str = "CA", seed: int = 7, now: datetime | None = None) -> None:
        self.department = department
        self.rng = random.Random(seed)
        self.now = now or datetime.now(UTC)
        self.households: list[Household] = []
        self._serial = 0

    def _id(self, prefix: str) -> str:
        self._serial += 1
        return f"{self.department.lower()}-{prefix}-{self.rng.getrandbits(40):010x}-{self._serial}"

    def envelope(self, event_type: str, ref: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "event_id": self._id("ev"),
            "type": event_type,
            "schema_version": 1,
            "occurred_at": (self.now - timedelta(minutes=self.rng.randrange(0, 600))).isoformat(),
            "source": self.department,
            "household_id": ref,
            "correlation_id": self._id("corr"),
            "data": data,
        }

    def member(self, relation: str) -> dict[str, Any]:
        male = self.rng.random() < 0.5
        born = date(1940, 1, 1) + timedelta(days=self.rng.randrange(0, 365 * 80))
        name = self.rng.choice(SURNAMES) + "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2))))
        return {
            "resident_id": resident_id(self.rng, born, male),
            "name": name,
            "birth_date": born.isoformat(),
            "sex": "M" if male else "F",
            "relation": relation,
        }

    def household_reported(self) -> dict[str, Any]:
        ref = self._id("hh")
        district = self.rng.choice(DISTRICT_CODES)
        address = f"{DISTRICTS[district].name_zh}{self.rng.choice(STREETS)}{self.rng.randrange(1, 3000)}弄{self.rng.randrange(1, 40)}号{self.rng.randrange(101, 1802)}室"
        relations = ["head", "spouse", "child", "parent"][: self.rng.randrange(1, 5)]
        household = Household(ref, district, address, [self.member(r) for r in relations])
        self.households.append(household)
        data = {"district": district, "address": address, "category": "dibao", "colour": "yellow",
                "monthly_income_per_capita_fen": self.rng.randrange(0, 200_000), "members": household.members}
        return self.envelope("household.reported", ref, data)

    def benefit_granted(self, household: Household | None = None) -> dict[str, Any]:
        household = household or self.rng.choice(self.households)
        start = date(2026, self.rng.randrange(1, 3), 1)
        data = {
            "benefit_id": self._id("b"),
            "programme": self.rng.choice(PROGRAMMES_OF[self.department]),
            "resident_id": household.members[0]["resident_id"],
            "amount_fen": self.rng.randrange(10_000, 300_000),
            "period_start": start.isoformat(),
            "period_end": (start + timedelta(days=365)).isoformat(),
        }
        return self.envelope("benefit.granted", household.ref, data)

    def need_assessed(self, household: Household | None = None) -> dict[str, Any]:
        household = household or self.rng.choice(self.households)
        data = {"need_id": self._id("n"), "category": "medical", "description": "住院费用自付部分较高",
                "urgency": self.rng.randrange(1, 6), "assessed_on": "2026-02-20"}
        return self.envelope("need.assessed", household.ref, data)

    def need_withdrawn(self, need: dict[str, Any], reason: str = "已由其他渠道解决") -> dict[str, Any]:
        data = {"need_id": need["data"]["need_id"], "reason": reason}
        return self.envelope("need.withdrawn", need["household_id"], data)

    def benefit_changed(self, household: Household | None = None) -> dict[str, Any]:
        household = household or self.rng.choice(self.households)
        data = {"benefit_id": self._id("b"), "effective_on": "2026-04-01", "amount_fen": 107_000, "reason": "标准调整"}
        return self.envelope("benefit.changed", household.ref, data)

    def valid(self) -> dict[str, Any]:
        """A household report one time in five (or while there are none), else a need or benefit."""
        roll = self.rng.random()
        if not self.households or roll < 0.2:
            return self.household_reported()
        if roll < 0.7:
            return self.benefit_granted()
        if roll < 0.85:
            return self.need_assessed()
        return self.benefit_changed()

    # --- ten ways to be wrong --------------------------------------------------------------------

    def invalid(self, way: int) -> tuple[bytes, str]:
        """The `way`-th kind of invalid event (0-9) and the reason code intake must give."""
        maker, code = INVALID_WAYS[way % len(INVALID_WAYS)]
        return maker(self), code


def _not_json(f: EventFactory) -> bytes:
    return b'{"event_id": "broken", "type": "benefit.granted", ' + f._id("x").encode()


def _letters_in_number(f: EventFactory) -> bytes:
    # (A failed check character alone is no longer a rejection: intake repairs it among the
    # household's members, or rejects it only then.)
    event = f.benefit_granted()
    event["data"]["resident_id"] = event["data"]["resident_id"][:10] + "AB" + event["data"]["resident_id"][12:]
    return orjson.dumps(event)


def _short_number(f: EventFactory) -> bytes:
    # A member's damaged number is used (linked by name, with a notice); a grant's is not.
    event = f.benefit_granted()
    event["data"]["resident_id"] = event["data"]["resident_id"][:15]
    return orjson.dumps(event)


def _unknown_programme(f: EventFactory) -> bytes:
    event = f.benefit_granted()
    event["data"]["programme"] = "FREE_LUNCH"
    return orjson.dumps(event)


def _negative_amount(f: EventFactory) -> bytes:
    event = f.benefit_granted()
    event["data"]["amount_fen"] = -500
    return orjson.dumps(event)


def _period_backwards(f: EventFactory) -> bytes:
    event = f.benefit_granted()
    event["data"]["period_end"] = "2025-01-01"
    return orjson.dumps(event)


def _future_assessment(f: EventFactory) -> bytes:
    event = f.need_assessed()
    event["data"]["assessed_on"] = (f.now + timedelta(days=30)).date().isoformat()
    return orjson.dumps(event)


def _unknown_district(f: EventFactory) -> bytes:
    event = f.household_reported()
    f.households.pop()
    event["data"]["district"] = "999999"
    return orjson.dumps(event)


def _text_too_long(f: EventFactory) -> bytes:
    event = f.need_assessed()
    event["data"]["description"] = "很" * 600
    return orjson.dumps(event)


def _other_department(f: EventFactory) -> bytes:
    event = f.benefit_granted()
    event["source"] = "HRSS" if f.department != "HRSS" else "CA"
    return orjson.dumps(event)


INVALID_WAYS: list[tuple[Callable[[EventFactory], bytes], str]] = [
    (_not_json, "payload.not_json"),
    (_letters_in_number, "resident_id.format"),
    (_short_number, "resident_id.length"),
    (_unknown_programme, "programme.unknown"),
    (_negative_amount, "amount.negative"),
    (_period_backwards, "period.end_before_start"),
    (_future_assessment, "date.in_future"),
    (_unknown_district, "district.unknown"),
    (_text_too_long, "text.too_long"),
    (_other_department, "department.topic_mismatch"),
]


def mixed_stream(count: int, invalid_every: int = 10, department: str = "CA", seed: int = 7) -> Iterator[Sample]:
    """`count` events in order; every `invalid_every`-th is invalid, cycling through the ten ways.
    The first events are household reports so that needs and benefits have a household."""
    factory = EventFactory(department, seed)
    for index in range(count):
        if invalid_every and index % invalid_every == invalid_every - 1:
            value, code = factory.invalid(index // invalid_every)
            yield Sample(value, "", code)
            continue
        event = factory.valid()
        yield Sample(orjson.dumps(event), event["household_id"], "accepted")
