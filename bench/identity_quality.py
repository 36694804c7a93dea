"""How well the running intake tells people apart and together: one person, one key.

A synthetic population of Shanghai residents is generated, then the household reports that
departments would send about them, with the slips real registers have: a missing number, one
mistyped digit, full-width digits, traditional characters, spaced names, homophone slips from
pinyin input, polyphonic surnames, addresses written five ways, a wrong birth-date digit. Twins at
one address and namesakes born the same day elsewhere are planted as hard negatives.

The reports go to intake's real ways in, in one seeded random order interleaved across
departments: 60% to the departments' Kafka topics, 40% posted over HTTP in small batches, with one
and then two intake processes (a fresh database and topic namespace each). The figures come from
what intake published: each report's person key after following every `person.merged`. Pairwise
over all true pairs: a pair of reports of one resident is found when both got the same key; a
report rejected or still held links to nobody, so it costs recall.

    python -m bench.identity_quality --persons 1500 --seed 7 --instances 1,2
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from opencc import OpenCC
from pypinyin import lazy_pinyin

from bench.intake_throughput import start_intake, wait_healthy
from bench.ledger_tools import read_until
from bench.machine import describe, reference_seconds
from bench.results import emit
from contracts.catalogue import DISTRICTS
from contracts.hub import DataQualityNotice, HouseholdMerged, HouseholdRecorded, PersonMerged
from contracts.topics import CANONICAL, DATA_QUALITY, REJECTIONS, department_topic
from kit.settings import HubSettings
from kit.tansu import EmbeddedBroker
from services.intake.domain import PersonKeys
from services.intake.resident_id import check_character

TODAY = date(2025, 6, 30)
PRECISION_TARGET = 0.995
RECALL_TARGET = 0.98
STAFF = {"X-API-Key": "dev-staff-key"}

# Surname shares roughly as in Shanghai, heteronym and compound surnames included on purpose.
SURNAMES: dict[str, float] = {
    "王": 7.0, "张": 6.5, "陈": 6.0, "李": 5.5, "徐": 3.5, "朱": 3.0, "周": 3.0, "沈": 2.8,
    "刘": 2.8, "杨": 2.5, "黄": 2.2, "吴": 2.2, "陆": 2.0, "顾": 2.0, "钱": 1.5, "孙": 1.5,
    "胡": 1.4, "金": 1.4, "施": 1.2, "赵": 1.2, "蒋": 1.0, "曹": 1.0, "姚": 1.0, "马": 1.0,
    "高": 0.9, "郭": 0.9, "何": 0.9, "林": 0.9, "倪": 0.8, "龚": 0.8, "汤": 0.8, "严": 0.8,
    "范": 0.7, "潘": 0.7, "袁": 0.7, "许": 0.7, "宋": 0.6, "谢": 0.6, "唐": 0.6, "丁": 0.6,
    "叶": 0.6, "邱": 0.5, "秦": 0.5, "郑": 0.5, "俞": 0.5, "卫": 0.4, "蔡": 0.5, "戴": 0.5,
    "曾": 0.4, "单": 0.3, "解": 0.2, "区": 0.1, "仇": 0.2, "朴": 0.1, "查": 0.2, "盖": 0.1,
    "华": 0.3, "乐": 0.2, "秘": 0.05, "缪": 0.2, "覃": 0.1, "翟": 0.2, "欧阳": 0.2,
    "尉迟": 0.03, "万俟": 0.02, "长孙": 0.02, "上官": 0.05, "司马": 0.05, "诸葛": 0.03,
}
GIVEN_CHARACTERS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华玉兰萍红建国文辉力斌宇浩凯鹏飞鑫宁琳雪梅"
    "莉燕慧佳婷欣怡子涵轩睿博晨嘉俊思雨晓小志海春云金荣林东新德福成龙凤庆永生家学忠桂珍"
    "美娣妹根宝弟康龄彬昊楷馨梓萱瑞骏智蓉冬诚峰青升婕鸣铭颖倩琴蕾晶亮"
)
# Characters that a pinyin input method offers next to the ones above.
HOMOPHONE_DECOYS = (
    "韦玮炜薇维卫为方放那纳民闽敬立丽墙雷君钧阳扬咏彦洁鹃陶名苹钢鹰莹桦语健剑雯惠楷朋菲凝霖"
    "玫亭宜仪紫晗寒宣波辰丝智纯芸今容忠中富隆"
)
ROADS: dict[str, tuple[str, ...]] = {
    "310101": ("南京东路", "西藏南路", "中山南路", "复兴中路", "建国东路"),
    "310104": ("漕溪北路", "肇嘉浜路", "龙华路", "天钥桥路", "田林路"),
    "310105": ("仙霞路", "天山路", "古北路", "延安西路", "北新泾路"),
    "310106": ("江宁路", "共和新路", "西藏北路", "延长路", "大统路"),
    "310107": ("长寿路", "武宁路", "曹杨路", "真如路", "中山北路"),
    "310109": ("四川北路", "曲阳路", "大连西路", "广中路", "海宁路"),
    "310110": ("控江路", "平凉路", "殷行路", "国权路", "长阳路"),
    "310112": ("七莘路", "莘松路", "都市路", "春申路", "虹梅路"),
    "310113": ("友谊路", "牡丹江路", "淞宝路", "沪太路", "长江西路"),
    "310114": ("塔城路", "城中路", "博乐路", "清河路", "嘉定镇沪宜公路"),
    "310115": ("张杨路", "浦东南路", "崂山路", "东方路", "杨高南路"),
    "310116": ("石化卫零路", "蒙山路", "卫清西路", "朱泾镇健康路", "亭林镇寺平南路"),
    "310117": ("中山中路", "人民北路", "荣乐东路", "谷阳北路", "新松江路"),
    "310118": ("公园路", "城中东路", "华新镇华志路", "青赵公路", "淀山湖大道"),
    "310120": ("南桥路", "解放东路", "古华路", "江海路", "环城东路"),
    "310151": ("八一路", "人民路", "城桥镇东门路", "堡镇南路", "新河镇新开河路"),
}
CHINESE_DIGITS = "〇一二三四五六七八九"
POLYPHONIC_SURNAMES = frozenset({"单", "解", "区", "仇", "朴", "查", "盖", "乐", "秘", "缪", "覃", "翟", "曾", "尉迟", "万俟"})


@dataclass(frozen=True)
class Resident:
    id_number: str
    name: str
    birth_date: date
    district: str
    address: str
    other_address: str | None = None
    planted: str | None = None  # "twin" or "namesake": a hard negative


@dataclass(frozen=True)
class SentRecord:
    truth: str
    id_number: str | None
    name: str
    birth_date: date | None
    address: str
    district: str
    kinds: frozenset[str] = frozenset()  # the error kinds this record carries


class Population:
    """Residents in households; twins and same-day namesakes planted among them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.issued: set[str] = set()
        self.homophones = _homophone_groups(GIVEN_CHARACTERS + HOMOPHONE_DECOYS)

    def generate(self, persons: int) -> list[Resident]:
        planted = persons // 100
        residents: list[Resident] = []
        while len(residents) < persons - 2 * planted:
            residents.extend(self._household())
        residents = residents[: persons - 2 * planted]
        twins = self._twins(residents, planted)
        return residents + twins + self._namesakes(residents, persons - len(residents) - len(twins))

    def _household(self) -> list[Resident]:
        district = self.rng.choice(list(DISTRICTS))
        address = self._address(district)
        head = self._resident(self._surname(), self._birth_date(1935, 1985), district, address)
        members = [head]
        if self.rng.random() < 0.55:
            spouse_born = _near(self.rng, head.birth_date, 6)
            members.append(self._resident(self._surname(), spouse_born, district, address))
        if self.rng.random() < 0.4:
            child_born = self._birth_date(head.birth_date.year + 20, head.birth_date.year + 36)
            members.append(self._resident(_surname_of(head.name), child_born, district, address))
        return [self._maybe_moved(m) for m in members]

    def _resident(self, surname: str, born: date, district: str, address: str) -> Resident:
        name = surname + self._given_name()
        return Resident(self._id_number(district, born), name, born, district, address)

    def _twins(self, residents: Sequence[Resident], count: int) -> list[Resident]:
        twins = []
        for sibling in self.rng.sample(list(residents), count):
            given = sibling.name[len(_surname_of(sibling.name)) :]
            if self.rng.random() < 0.5:
                given = self.homophone_slip(given) or self._given_name()
            else:
                given = self._given_name()
            name = _surname_of(sibling.name) + given
            if name == sibling.name:
                continue
            id_number = self._id_number(sibling.district, sibling.birth_date)
            twins.append(replace(sibling, id_number=id_number, name=name, other_address=None, planted="twin"))
        return twins

    def _namesakes(self, residents: Sequence[Resident], count: int) -> list[Resident]:
        namesakes = []
        for original in self.rng.sample(list(residents), count):
            district = original.district
            if self.rng.random() < 0.5:
                district = self.rng.choice(list(DISTRICTS))
            id_number = self._id_number(district, original.birth_date)
            address = self._address(district)
            born = original.birth_date
            namesakes.append(Resident(id_number, original.name, born, district, address, planted="same_name_same_birthday"))
        return namesakes

    def _maybe_moved(self, resident: Resident) -> Resident:
        if self.rng.random() >= 0.03:
            return resident
        return replace(resident, other_address=self._address(resident.district))

    def _surname(self) -> str:
        return self.rng.choices(list(SURNAMES), weights=list(SURNAMES.values()))[0]

    def _given_name(self) -> str:
        length = 1 if self.rng.random() < 0.35 else 2
        return "".join(self.rng.choice(GIVEN_CHARACTERS) for _ in range(length))

    def _birth_date(self, first_year: int, last_year: int) -> date:
        start, end = date(first_year, 1, 1), min(date(last_year, 12, 31), TODAY)
        return start + timedelta(days=self.rng.randrange((end - start).days + 1))

    def _address(self, district: str) -> str:
        road = self.rng.choice(ROADS[district])
        number = self.rng.randint(1, 2000)
        room = self.rng.randint(1, 6) * 100 + self.rng.randint(1, 4)
        prefix = f"{DISTRICTS[district].name_zh}{road}{number}"
        if self.rng.random() < 0.7:
            return f"{prefix}弄{self.rng.randint(1, 40)}号{room}室"
        return f"{prefix}号{room}室"

    def _id_number(self, district: str, born: date) -> str:
        region = district if self.rng.random() < 0.7 else self.rng.choice(list(DISTRICTS))
        while True:
            first17 = f"{region}{born:%Y%m%d}{self.rng.randrange(1000):03d}"
            number = first17 + check_character(first17)
            if number not in self.issued:
                self.issued.add(number)
                return number

    def homophone_slip(self, given: str) -> str | None:
        positions = [i for i, ch in enumerate(given) if len(self.homophones.get(ch, ())) > 1]
        if not positions:
            return None
        i = self.rng.choice(positions)
        other = self.rng.choice([c for c in self.homophones[given[i]] if c != given[i]])
        return given[:i] + other + given[i + 1 :]


class Departments:
    """The records departments send about residents, slips and all."""

    def __init__(self, rng: random.Random, population: Population) -> None:
        self.rng = rng
        self.population = population
        self.to_traditional = OpenCC("s2t")

    def records(self, residents: Sequence[Resident]) -> list[SentRecord]:
        counts = self.rng.choices((1, 2, 3, 4, 5), weights=(30, 30, 20, 12, 8), k=len(residents))
        sent = [self._record(r) for r, n in zip(residents, counts, strict=True) for _ in range(n)]
        self.rng.shuffle(sent)
        return sent

    def _record(self, resident: Resident) -> SentRecord:
        kinds: set[str] = set()
        if resident.planted:
            kinds.add(resident.planted)
        if _surname_of(resident.name) in POLYPHONIC_SURNAMES:
            kinds.add("polyphonic_surname")
        return SentRecord(
            truth=resident.id_number,
            id_number=self._id_number(resident.id_number, kinds),
            name=self._name(resident.name, kinds),
            birth_date=self._birth_date(resident.birth_date, kinds),
            address=self._address(resident, kinds),
            district=resident.district,
            kinds=frozenset(kinds),
        )

    def _id_number(self, number: str, kinds: set[str]) -> str | None:
        roll = self.rng.random()
        if roll < 0.05:
            kinds.add("missing_id")
            return None
        if roll < 0.08:
            kinds.add("mistyped_id")
            return _mistype(self.rng, number)
        if roll < 0.11:
            kinds.add("full_width_id")
            return number.translate(_FULL_WIDTH_DIGITS)
        return number.lower() if number.endswith("X") and self.rng.random() < 0.3 else number

    def _name(self, name: str, kinds: set[str]) -> str:
        roll = self.rng.random()
        surname = _surname_of(name)
        if roll < 0.06:
            kinds.add("traditional_name")
            return str(self.to_traditional.convert(name))
        if roll < 0.11:
            kinds.add("spaced_name")
            spaced = f"{surname}\u3000{name[len(surname):]}"
            return self.rng.choice((spaced, f" {name} ", f"{name}\u3000", f"{surname} {name[len(surname):]}"))
        if roll < 0.14:
            slipped = self.population.homophone_slip(name[len(surname) :])
            if slipped:
                kinds.add("homophone_name")
                return surname + slipped
        return name

    def _birth_date(self, born: date, kinds: set[str]) -> date | None:
        roll = self.rng.random()
        if roll < 0.005:
            kinds.add("birth_date_slip")
            return None
        if roll < 0.015:
            slipped = _date_slip(self.rng, born)
            if slipped != born:
                kinds.add("birth_date_slip")
            return slipped
        return born

    def _address(self, resident: Resident, kinds: set[str]) -> str:
        address = resident.address
        if resident.other_address and self.rng.random() < 0.5:
            address = resident.other_address
            kinds.add("moved_address")
        district = DISTRICTS[resident.district].name_zh
        original = address
        if self.rng.random() < 0.2:
            address = address.removeprefix(district)
        roll = self.rng.random()
        if roll < 0.3:
            address = "上海市" + address
        elif roll < 0.35:
            address = "上海" + address
        address = self._rewrite_numbers(address)
        if address != original:
            kinds.add("address_variant")
        return address

    def _rewrite_numbers(self, address: str) -> str:
        roll = self.rng.random()
        if roll < 0.05:
            address = address.replace("号", "号楼", 1) if "弄" in address else address
        elif roll < 0.10:
            address = address.replace("号", "-", 1).removesuffix("室")
        elif roll < 0.13:
            address = address.replace("号", "幢", 1) if "弄" in address else address
        elif roll < 0.18:
            address = address.removesuffix("室")
        if self.rng.random() < 0.1:
            address = address.translate(_FULL_WIDTH_DIGITS)
        if self.rng.random() < 0.03:
            address = _small_numbers_in_chinese(address)
        return address


_FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def _homophone_groups(characters: str) -> dict[str, tuple[str, ...]]:
    groups: dict[str, list[str]] = {}
    for ch in dict.fromkeys(characters):
        groups.setdefault(lazy_pinyin(ch)[0], []).append(ch)
    return {ch: tuple(group) for group in groups.values() for ch in group}


def _surname_of(name: str) -> str:
    return name[:2] if name[:2] in SURNAMES else name[:1]


def _near(rng: random.Random, born: date, years: int) -> date:
    moved = born + timedelta(days=rng.randint(-365 * years, 365 * years))
    return min(max(moved, date(1925, 1, 1)), TODAY)


def _mistype(rng: random.Random, number: str) -> str:
    if rng.random() < 0.2:
        i = rng.randrange(16)
        if number[i] != number[i + 1]:
            return number[:i] + number[i + 1] + number[i] + number[i + 2 :]
    i = rng.randrange(18)
    wrong = rng.choice([d for d in "0123456789" if d != number[i]])
    return number[:i] + wrong + number[i + 1 :]


def _date_slip(rng: random.Random, born: date) -> date:
    if born.day <= 12 and born.day != born.month and rng.random() < 0.3:
        return date(born.year, born.day, born.month)
    text = f"{born:%Y%m%d}"
    for _ in range(20):
        i = rng.randrange(2, 8)
        slipped = text[:i] + rng.choice("0123456789") + text[i + 1 :]
        try:
            candidate = date(int(slipped[:4]), int(slipped[4:6]), int(slipped[6:]))
        except ValueError:
            continue
        if candidate != born and candidate <= TODAY:
            return candidate
    return born


def _small_numbers_in_chinese(address: str) -> str:
    # 5号 -> 五号: only a building number of one digit, as people write it.
    for unit in ("号", "幢", "号楼"):
        at = address.find(unit)
        if at > 0 and address[at - 1].isdigit() and (at < 2 or not address[at - 2].isdigit()):
            return address[: at - 1] + CHINESE_DIGITS[int(address[at - 1])] + address[at:]
    return address


# --- driving the running intake -----------------------------------------------------------------

DEPARTMENT_CODES = ("CA", "HRSS", "HEALTH", "EDU", "HOUSING", "DPF", "UNION")
HTTP_SHARE = 0.4  # of the records, posted over HTTP; the rest go to the departments' Kafka topics
CHUNK = 40  # records sent between two looks at the clock: Kafka and HTTP interleaved


@dataclass(frozen=True)
class Sent:
    """A department's household report of one resident, as sent, with what is true about it."""

    record: SentRecord
    department: str
    ref: str
    event: dict[str, Any]
    channel: str


def department_events(records: Sequence[SentRecord], rng: random.Random, now: datetime) -> list[Sent]:
    """Each record becomes one department's report of a one-person household, on a seeded random
    department and channel, in the records' (shuffled) order."""
    sent = []
    for index, record in enumerate(records):
        department = rng.choice(DEPARTMENT_CODES)
        ref = f"{department.lower()}-hh-{index:06d}"
        member = {"name": record.name, "resident_id": record.id_number, "relation": "head",
                  "birth_date": record.birth_date.isoformat() if record.birth_date else None}
        event = {
            "event_id": f"{department.lower()}-iq-{index:06d}", "type": "household.reported", "schema_version": 1,
            "occurred_at": now.isoformat(), "source": department, "household_id": ref,
            "data": {"district": record.district, "address": record.address, "category": "dibao", "colour": "yellow",
                     "monthly_income_per_capita_fen": 50_000, "members": [member]},
        }
        sent.append(Sent(record, department, ref, event, "http" if rng.random() < HTTP_SHARE else "kafka"))
    return sent


async def send_all(hub: HubSettings, urls: list[str], sent: Sequence[Sent]) -> dict[str, str]:
    """Kafka records to the department topics, HTTP batches to the intake processes in turn;
    returns each HTTP-posted event's status."""
    producer = AIOKafkaProducer(bootstrap_servers=hub.kafka_bootstrap, linger_ms=5, acks="all")
    await producer.start()
    statuses: dict[str, str] = {}
    turn = 0
    try:
        async with httpx.AsyncClient(timeout=120) as client:
            for start in range(0, len(sent), CHUNK):
                chunk = sent[start : start + CHUNK]
                sends = [
                    await producer.send(hub.topic_name(department_topic(s.department)), orjson.dumps(s.event), key=s.ref.encode())
                    for s in chunk if s.channel == "kafka"
                ]
                posts = []
                for department in DEPARTMENT_CODES:
                    batch = [s.event for s in chunk if s.channel == "http" and s.department == department]
                    if batch:
                        posts.append(_post(client, urls[turn % len(urls)], department, batch, statuses))
                        turn += 1
                await asyncio.gather(*sends, *posts)
    finally:
        await producer.stop()
    return statuses


async def _post(client: httpx.AsyncClient, url: str, department: str, batch: list[dict[str, Any]], statuses: dict[str, str]) -> None:
    for _ in range(30):
        answer = await client.post(f"{url}/events", json=batch, headers={"X-API-Key": f"dev-{department.lower()}-key"})
        if answer.status_code != 503:  # busy: another process recorded the same thing at once; nothing kept
            break
        await asyncio.sleep(0.2)
    answer.raise_for_status()
    for event, result in zip(batch, answer.json()["results"], strict=True):
        statuses[event["event_id"]] = result["status"]


async def outcomes(hub: HubSettings, urls: list[str], sent: Sequence[Sent], timeout: float) -> tuple[dict[str, str | None], Counter[str]]:
    """Every record's final person key (None when rejected or still held), once intake is done:
    every record accepted, rejected or held, and nothing new on its topics for two seconds."""
    expected = len(sent)
    deadline = time.monotonic() + timeout
    last_total, quiet_since = -1, time.monotonic()
    while True:
        canonical = await read_until(hub, CANONICAL, lambda events: False, timeout=1.0)
        rejected = await read_until(hub, REJECTIONS, lambda events: False, timeout=0.5)
        held = httpx.get(f"{urls[0]}/held-records", headers=STAFF, timeout=30).json()
        recorded = [e for e in canonical if isinstance(e, HouseholdRecorded)]
        total = len(canonical) + len(rejected) + len(held)
        if total != last_total:
            last_total, quiet_since = total, time.monotonic()
        done = len({e.event_id for e in recorded}) + len(rejected) + len(held) >= expected
        if (done and time.monotonic() - quiet_since > 2) or time.monotonic() > deadline:
            break
    by_ref = final_keys(canonical, sent, hub.person_key_secret.get_secret_value().encode())
    counts: Counter[str] = Counter()
    counts["accepted"] = len({e.data.department_household_ref for e in recorded})
    counts["rejected"] = len(rejected)
    counts["held"] = len(held)
    counts["person_merged"] = sum(isinstance(e, PersonMerged) for e in canonical)
    counts["household_merged"] = sum(isinstance(e, HouseholdMerged) for e in canonical)
    notices = await read_until(hub, DATA_QUALITY, lambda events: False, timeout=1.0)
    counts["data_quality_notices"] = len(notices)
    counts.update(f"notice_{n.data.outcome}" for n in notices if isinstance(n, DataQualityNotice))
    return by_ref, counts


def final_keys(events: Sequence[Any], sent: Sequence[Sent], secret: bytes) -> dict[str, str | None]:
    """Each sent record's person key after following every `person.merged` (None when intake
    recorded no household for it), by the reference it was sent with. Intake republishes a
    department's own household reference as a keyed pseudonym, so the records are found by theirs."""
    survivor = {m: e.data.surviving_person_key for e in events if isinstance(e, PersonMerged) for m in e.data.merged_person_keys}

    def final(key: str) -> str:
        while key in survivor:
            key = survivor[key]
        return key

    recorded = {e.data.department_household_ref: final(e.data.members[0].person_key) for e in events if isinstance(e, HouseholdRecorded)}
    republished = PersonKeys(secret).household_ref
    return {s.ref: recorded.get(republished(s.department, s.ref)) for s in sent}


# --- scoring -----------------------------------------------------------------------------------


@dataclass
class PairCounts:
    true_pairs: int = 0
    linked_pairs: int = 0
    correct_pairs: int = 0

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.linked_pairs if self.linked_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0


def pair_counts(sent: Sequence[Sent], keys: dict[str, str | None], kind: str | None = None) -> PairCounts:
    """Pairwise over all records: a pair is true when both are one resident, linked when both got
    the same final key; a record without a key links to nobody. With `kind`, only the pairs with
    at least one record of that error kind count."""

    def pairs(groups: dict[Any, list[bool]]) -> int:
        return sum(_pairs(len(g)) - _pairs(len(g) - sum(g)) for g in groups.values())

    truth: dict[str, list[bool]] = {}
    linked: dict[str, list[bool]] = {}
    both: dict[tuple[str, str], list[bool]] = {}
    for s in sent:
        marked = kind is None or kind in s.record.kinds
        truth.setdefault(s.record.truth, []).append(marked)
        key = keys.get(s.ref)
        if key is not None:
            linked.setdefault(key, []).append(marked)
            both.setdefault((s.record.truth, key), []).append(marked)
    return PairCounts(pairs(truth), pairs(linked), pairs(both))


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


# --- a run ---------------------------------------------------------------------------------------


async def run(sent: list[Sent], instances: int, hub: HubSettings, database_url: str, folder: Path, timeout: float) -> tuple[dict[str, str | None], Counter[str], float]:
    processes = []
    try:
        for instance in range(instances):
            log = folder / f"intake-{instance + 1}.log"
            process, url = start_intake(hub, database_url, folder / "data", log, "INFO")
            processes.append((process, url, log))
        for process, url, log in processes:
            wait_healthy(url, process, log)
        urls = [url for _, url, _ in processes]
        started = time.perf_counter()
        await send_all(hub, urls, sent)
        keys, counts = await outcomes(hub, urls, sent, timeout)
        return keys, counts, time.perf_counter() - started
    finally:
        for process, _, _ in processes:
            process.terminate()
        for process, _, _ in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def report(label: str, sent: Sequence[Sent], keys: dict[str, str | None], counts: Counter[str], seconds: float) -> bool:
    overall = pair_counts(sent, keys)
    print(f"\n== {label}: {len(sent)} records of {len({s.record.truth for s in sent})} residents in {seconds:.1f} s")
    print("outcomes", " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    print(f"pairwise precision {overall.precision:.4f} recall {overall.recall:.4f} "
          f"(true pairs {overall.true_pairs}, linked pairs {overall.linked_pairs}, correct {overall.correct_pairs})")
    kinds = sorted({k for s in sent for k in s.record.kinds})
    print(f"{'error kind':<26}{'records':>8}{'no key':>8}{'true pairs':>12}{'precision':>11}{'recall':>9}")
    for kind in kinds:
        marked = [s for s in sent if kind in s.record.kinds]
        figures = pair_counts(sent, keys, kind)
        missing = sum(keys.get(s.ref) is None for s in marked)
        print(f"{kind:<26}{len(marked):>8}{missing:>8}{figures.true_pairs:>12}{figures.precision:>11.4f}{figures.recall:>9.4f}")
    emit(f"identity ({label}): precision of person links", overall.precision, "", f">= {PRECISION_TARGET}")
    emit(f"identity ({label}): recall of person links", overall.recall, "", f">= {RECALL_TARGET}")
    return overall.precision >= PRECISION_TARGET and overall.recall >= RECALL_TARGET


def fresh_postgres(server_url: str) -> str:
    name = f"identity_quality_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--instances", default="1,2", help="intake process counts to run, e.g. 1,2")
    parser.add_argument("--postgres", default=None, metavar="SERVER_URL",
                        help="e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres: a new database there per run; "
                             "default: a SQLite file in a temporary folder per run")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    population = Population(rng)
    residents = population.generate(args.persons)
    records = Departments(rng, population).records(residents)
    sent = department_events(records, rng, datetime.now(UTC) - timedelta(minutes=1))
    before = reference_seconds()
    postgres = f" --postgres {args.postgres}" if args.postgres else ""
    print(f"command: python -m bench.identity_quality --persons {args.persons} --seed {args.seed} --instances {args.instances}{postgres}")
    met = True
    with EmbeddedBroker() as broker:
        for instances in (int(n) for n in args.instances.split(",")):
            hub = HubSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False, topic_namespace=f"iq{uuid.uuid4().hex[:6]}.")
            with tempfile.TemporaryDirectory(prefix="identity-quality-") as folder:
                url = fresh_postgres(args.postgres) if args.postgres else f"sqlite:///{folder}/intake.db"
                keys, counts, seconds = asyncio.run(run(sent, instances, hub, url, Path(folder), args.timeout))
                met &= report(f"{instances} intake process(es), {url.split(':')[0].split('+')[0]}", sent, keys, counts, seconds)
    print(describe(before, reference_seconds()))
    wanted = f"precision>={PRECISION_TARGET} recall>={RECALL_TARGET}"
    print("\ntargets", "met" if met else "missed", wanted)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
