"""How well intake resolves people whose records lack a valid resident ID number.

A synthetic population of Shanghai residents in households is generated, then the records that
departments would send about them, with the slips real data has: a mistyped ID digit, a missing
number, traditional characters, stray full-width spaces, homophone slips from pinyin input,
addresses written five ways, a wrong birth-date digit. Twins at one address and namesakes born on
the same day are planted as hard negatives.

The index is built from the records with a valid number; every other record goes through
`decide`. The ground truth is used only to score the decisions. A link is a (record -> person)
assertion: a referral to review is no link, so it costs recall, never precision.

    python -m bench.identity_quality --persons 20000 --seed 7
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from opencc import OpenCC
from pypinyin import lazy_pinyin

from contracts.catalogue import DISTRICTS
from contracts.pseudonyms import person_key
from services.intake.linking import (
    Candidate,
    CandidateIndex,
    Linked,
    NeedsReview,
    PersonRecord,
    decide,
)
from services.intake.resident_id import (
    birth_date_of,
    check_character,
    has_valid_checksum,
    single_edit_repairs,
)

TODAY = date(2025, 6, 30)
SECRET = b"bench-identity-quality"
PRECISION_TARGET = 0.99
RECALL_TARGET = 0.95

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


@dataclass(frozen=True)
class Resident:
    id_number: str
    name: str
    birth_date: date
    district: str
    address: str
    other_address: str | None = None


@dataclass(frozen=True)
class SentRecord:
    truth: str
    id_number: str | None
    name: str
    birth_date: date | None
    address: str
    district: str


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
            twins.append(replace(sibling, id_number=id_number, name=name, other_address=None))
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
            namesakes.append(Resident(id_number, original.name, born, district, address))
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
        return SentRecord(
            truth=resident.id_number,
            id_number=self._id_number(resident.id_number),
            name=self._name(resident.name),
            birth_date=self._birth_date(resident.birth_date),
            address=self._address(resident),
            district=resident.district,
        )

    def _id_number(self, number: str) -> str | None:
        roll = self.rng.random()
        if roll < 0.05:
            return None
        if roll < 0.08:
            return _mistype(self.rng, number)
        return number.lower() if number.endswith("X") and self.rng.random() < 0.3 else number

    def _name(self, name: str) -> str:
        roll = self.rng.random()
        surname = _surname_of(name)
        if roll < 0.06:
            return str(self.to_traditional.convert(name))
        if roll < 0.11:
            spaced = f"{surname}\u3000{name[len(surname):]}"
            return self.rng.choice((spaced, f" {name} ", f"{name}\u3000"))
        if roll < 0.14:
            slipped = self.population.homophone_slip(name[len(surname) :])
            return surname + slipped if slipped else name
        return name

    def _birth_date(self, born: date) -> date | None:
        roll = self.rng.random()
        if roll < 0.005:
            return None
        if roll < 0.015:
            return _date_slip(self.rng, born)
        return born

    def _address(self, resident: Resident) -> str:
        address = resident.address
        if resident.other_address and self.rng.random() < 0.5:
            address = resident.other_address
        district = DISTRICTS[resident.district].name_zh
        if self.rng.random() < 0.2:
            address = address.removeprefix(district)
        roll = self.rng.random()
        if roll < 0.3:
            address = "上海市" + address
        elif roll < 0.35:
            address = "上海" + address
        return self._rewrite_numbers(address)

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


@dataclass
class Tally:
    with_valid_id: int = 0
    without_valid_id: int = 0
    person_known: int = 0
    linked: int = 0
    correct: int = 0
    review: int = 0
    new: int = 0
    new_for_unknown: int = 0


def build_index(records: Sequence[SentRecord]) -> tuple[CandidateIndex, set[str]]:
    index, known = CandidateIndex(), set()
    for sent in records:
        if sent.id_number and has_valid_checksum(sent.id_number) and _date_ok(sent.id_number):
            key = person_key(sent.id_number, SECRET)
            index.add(Candidate(key, sent.name, birth_date_of(sent.id_number, TODAY), sent.address))
            known.add(key)
    return index, known


def link_all(records: Sequence[SentRecord], index: CandidateIndex, known: set[str]) -> Tally:
    tally = Tally()
    for sent in records:
        if sent.id_number and has_valid_checksum(sent.id_number) and _date_ok(sent.id_number):
            tally.with_valid_id += 1
            continue
        _score_one(sent, index, known, tally)
    return tally


def _score_one(sent: SentRecord, index: CandidateIndex, known: set[str], tally: Tally) -> None:
    record = to_person_record(sent)
    truth = person_key(sent.truth, SECRET)
    tally.without_valid_id += 1
    tally.person_known += truth in known
    decision = decide(record, index.candidates_for(record))
    if isinstance(decision, Linked):
        tally.linked += 1
        tally.correct += decision.person_key == truth
    elif isinstance(decision, NeedsReview):
        tally.review += 1
    else:
        tally.new += 1
        tally.new_for_unknown += truth not in known


def to_person_record(sent: SentRecord) -> PersonRecord:
    """What intake knows of a record without a valid number: never the ground truth."""
    repairs = single_edit_repairs(sent.id_number, TODAY) if sent.id_number else ()
    born = sent.birth_date
    if born is None and sent.id_number and _date_ok(sent.id_number):
        born = birth_date_of(sent.id_number, TODAY)
    near = frozenset(person_key(r, SECRET) for r in repairs)
    return PersonRecord(None, sent.name, born, sent.address, sent.district, near)


def _date_ok(id_number: str) -> bool:
    try:
        birth_date_of(id_number, TODAY)
    except ValueError:
        return False
    return True


def report(persons: int, records: int, tally: Tally, seconds: float) -> bool:
    precision = tally.correct / tally.linked if tally.linked else 1.0
    recall = tally.correct / tally.person_known if tally.person_known else 1.0
    all_links = tally.with_valid_id + tally.linked
    all_correct = tally.with_valid_id + tally.correct
    lines = {
        "persons": persons,
        "records": records,
        "records_with_valid_id": tally.with_valid_id,
        "records_without_valid_id": tally.without_valid_id,
        "of_which_person_known": tally.person_known,
        "linked": tally.linked,
        "review": tally.review,
        "new": tally.new,
        "new_for_unknown_person": tally.new_for_unknown,
        "wrong_links": tally.linked - tally.correct,
        "precision": f"{precision:.4f}",
        "recall": f"{recall:.4f}",
        "overall_precision": f"{all_correct / all_links:.4f}",
        "overall_recall": f"{all_correct / (tally.with_valid_id + tally.person_known):.4f}",
        "seconds": f"{seconds:.1f}",
    }
    for name, value in lines.items():
        print(name, value)
    return precision >= PRECISION_TARGET and recall >= RECALL_TARGET


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rng = random.Random(args.seed)
    population = Population(rng)
    residents = population.generate(args.persons)
    records = Departments(rng, population).records(residents)
    index, known = build_index(records)
    tally = link_all(records, index, known)
    met = report(len(residents), len(records), tally, time.perf_counter() - started)
    wanted = f"precision>={PRECISION_TARGET} recall>={RECALL_TARGET}"
    print("targets", "met" if met else "missed", wanted)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
