"""A year of Shanghai's department events, made from the papers' figures (seed 000 and 002).

Pure: no Kafka, no HTTP, no clock. `plan_year(households, seed)` returns every event the
departments send over one assistance year (2017-04-01 to 2018-03-31), in time order, each with
what intake must make of it (accepted, or the reason code of its rejection), the seeded overlaps
(pairs of grants that break one stacking rule each, so one alert each) and, for `--burst`, the
1 April 2018 standard change (every running dibao grant amended to 1,070 CNY per person).

Proportions (per assisted household; Shanghai had about 200,000 in 2017):
- categories: urban and rural dibao 112,600 + 28,400 households, extreme-poverty support 3,039
  people (one-person households), expenditure-type poverty 4,165 household-times; the rest
  low-income or marginal;
- grants a year: medical assistance 296,300 person-times, temporary assistance 163,400,
  severe disability without work 49,200 people, grain and oil 103,700, community comprehensive
  aid 65,700; education, employment, housing and trade-union aid are not counted in the paper
  and get small assumed shares (below);
- Chengdu's four colours (seed 002) set how urgent a household's needs are; the paper gives no
  shares, so the ones below are assumed.

Background events are made so that they break no rule of `services/ledger/policy.toml` (its
exclusions, repeat windows and caps); the only breaches are the seeded overlaps, one rule each.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Literal

import orjson

from contracts.catalogue import DISTRICTS
from services.intake.resident_id import check_character

ASSISTED_HOUSEHOLDS = 200_000  # Shanghai's scale (DESIGN.md)
YEAR_START = date(2017, 4, 1)
YEAR_DAYS = 365
STANDARD_CHANGE = date(2018, 4, 1)
DIBAO_2017_FEN = 97_000  # 970 CNY per person per month, Shanghai's standard from 2017-04-01 (assumed: the paper gives 2018's)
DIBAO_2018_FEN = 107_000  # 1,070 CNY from 2018-04-01 (seed 000)
SUPPORT_FEN = 140_000  # extreme-poverty support and severe disability without work, 1,400 CNY (seed 000)
CHINA = timezone(timedelta(hours=8))

CATEGORY_SHARES = {  # of assisted households
    "dibao": (112_600 + 28_400) / ASSISTED_HOUSEHOLDS,
    "extreme_poverty": 3_039 / ASSISTED_HOUSEHOLDS,
    "expenditure_poverty": 4_165 / ASSISTED_HOUSEHOLDS,
    "low_income": 0.20,
}
CATEGORY_SHARES["marginal"] = 1 - sum(CATEGORY_SHARES.values())
PER_HOUSEHOLD = {  # grants a year per assisted household, from the 2017 counts
    "MEDICAL": 296_300 / ASSISTED_HOUSEHOLDS,
    "TEMPORARY": 163_400 / ASSISTED_HOUSEHOLDS,
    "SEVERE_DISABILITY": 49_200 / ASSISTED_HOUSEHOLDS,
    "GRAIN_OIL": 103_700 / ASSISTED_HOUSEHOLDS,
    "COMMUNITY_AID": 65_700 / ASSISTED_HOUSEHOLDS,
}
ASSUMED_SHARES = {  # not in the paper: shares of households, stated here so that they can be argued with
    "EDUCATION": 0.08, "EMPLOYMENT": 0.05, "RENTAL_HOUSING": 0.03, "HOUSE_REPAIR": 0.01, "UNION_HARDSHIP": 0.02,
    "need": 0.20, "need_withdrawn": 0.15, "dibao_changed": 0.10, "dibao_ended": 0.06, "new_in_year": 0.10,
}
COLOUR_WEIGHTS = {"red": 5, "orange": 15, "yellow": 30, "green": 50}  # assumed
URGENCY_OF_COLOUR = {"red": (4, 5), "orange": (3, 4), "yellow": (2, 3), "green": (1, 2)}
NEED_CATEGORIES = ("medical", "care", "food", "education", "housing", "employment", "emergency")
HTTP_DEPARTMENTS = frozenset({"EDU", "DPF", "UNION"})  # post to intake's HTTP API; the others publish to Kafka

# The overlaps seeded on purpose: (rule broken, what the household must be).
OVERLAP_KINDS: tuple[tuple[str, str], ...] = (
    ("R-EXCL-DIBAO-EXTREME", "dibao"),
    ("R-EXCL-EXTREME-DISABILITY", "extreme_poverty"),
    ("R-EXCL-RENTAL-REPAIR", "low_income"),
    ("R-EXCL-UNION-EXPENDITURE", "expenditure_poverty"),
    ("R-ONCE-TEMPORARY-90D", "low_income"),
    ("R-ONCE-EDUCATION-120D", "dibao"),
)

SURNAMES = "王张陈李徐朱周沈刘杨黄吴陆顾钱孙胡金施赵蒋曹姚马高郭何林倪龚汤严范潘袁许宋谢唐丁叶邱秦郑俞蔡戴"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华玉兰萍红建国文辉力斌宇浩凯鹏飞鑫宁琳雪梅莉燕慧佳婷欣怡"
STREETS = ("张杨路", "浦东南路", "长寿路", "四平路", "虹桥路", "南京西路", "曹杨路", "共和新路", "莲花路", "沪闵路")

Channel = Literal["kafka", "http"]
ACCEPTED = "accepted"


@dataclass(frozen=True, slots=True)  # a city's year holds 1.4 million of them
class Planned:
    """One event a department sends, and what intake must make of it."""

    department: str
    channel: Channel
    key: str  # the department's household reference (the Kafka key)
    value: bytes
    event_id: str | None  # None when the payload is not even readable
    event_type: str
    expected: str  # ACCEPTED, or the reason code intake must give
    day: date
    resend: bool = False  # the same event sent again (a retry): intake must not count it twice


@dataclass(frozen=True)
class Overlap:
    rule_id: str
    benefit_ids: tuple[str, str]  # as the ledger knows them: DEPT:own-id


@dataclass
class Year:
    events: list[Planned]
    overlaps: list[Overlap]
    burst: list[Planned]
    figures: Counter[str] = field(default_factory=Counter)

    @property
    def distinct(self) -> list[Planned]:
        return [e for e in self.events if not e.resend]


@dataclass
class _Person:
    resident_id: str
    name: str
    born: date
    sex: str
    relation: str


@dataclass
class _Household:
    number: int
    district: str
    address: str
    category: str
    colour: str
    income_fen: int
    members: list[_Person]
    first_day: int  # day of the year it enters the register


class _Planner:
    def __init__(self, seed: int, tag: str, overlap_share: float, invalid_share: float, resend_share: float) -> None:
        self.rng = random.Random(seed)
        self.tag = tag
        self.overlap_every = round(1 / overlap_share) if overlap_share > 0 else 0
        self.invalid_share = invalid_share
        self.resend_share = resend_share
        self.used_ids: set[str] = set()
        self.timeline: list[tuple[int, int, Planned]] = []  # (day, order made, event)
        self.grants: list[tuple[str, str]] = []  # the current household's (benefit id, programme)
        self.order = 0
        self.serial = 0
        self.overlaps: list[Overlap] = []
        self.running_dibao: list[tuple[_Household, str]] = []  # (household, own benefit id) not ended
        self.figures: Counter[str] = Counter()

    # --- ids and envelopes -------------------------------------------------------------------

    def next_id(self, department: str, kind: str) -> str:
        self.serial += 1
        return f"{self.tag}-{department.lower()}-{kind}-{self.serial}"

    def ref(self, department: str, household: _Household) -> str:
        return f"{self.tag}-{department}-HH-{household.number:07d}"

    def envelope(self, department: str, event_type: str, ref: str, day: int, data: dict[str, Any]) -> dict[str, Any]:
        event_id = self.next_id(department, "ev")
        # Seconds from the serial: one household's events, made in order, keep that order on a day.
        moment = datetime.combine(_day(day), time(8, 0), CHINA) + timedelta(seconds=self.serial % 36_000)
        return {"event_id": event_id, "type": event_type, "schema_version": 1, "occurred_at": moment.isoformat(),
                "source": department, "household_id": ref, "correlation_id": f"{event_id}-c", "data": data}

    def add(self, event: dict[str, Any], day: int, expected: str = ACCEPTED, value: bytes | None = None) -> Planned:
        department = event["source"]
        planned = Planned(
            department=department, channel="http" if department in HTTP_DEPARTMENTS else "kafka",
            key=event["household_id"], value=value if value is not None else _compact(orjson.dumps(event)),
            event_id=event["event_id"], event_type=event["type"], expected=expected, day=_day(day),
        )
        self.order += 1
        self.timeline.append((day, self.order, planned))
        self.figures[f"events.{event['type']}"] += 1
        if expected == ACCEPTED and self.rng.random() < self.resend_share:
            self.order += 1
            later = min(day + 1, YEAR_DAYS - 1)
            retry = replace(planned, resend=True, day=_day(later))
            self.timeline.append((later, self.order, retry))
            self.figures["resends"] += 1
        return planned

    # --- people and households ---------------------------------------------------------------

    def person(self, relation: str, born_between: tuple[int, int]) -> _Person:
        male = self.rng.random() < 0.5
        while True:
            born = date(born_between[0], 1, 1) + timedelta(days=self.rng.randrange(0, 365 * (born_between[1] - born_between[0])))
            first17 = f"{self.rng.choice(tuple(DISTRICTS))}{born:%Y%m%d}{self.rng.randrange(0, 100):02d}{self.rng.choice('13579' if male else '02468')}"
            number = first17 + check_character(first17)
            if number not in self.used_ids:
                self.used_ids.add(number)
                break
        name = self.rng.choice(SURNAMES) + "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2))))
        return _Person(number, name, born, "M" if male else "F", relation)

    def household(self, number: int, category: str, pupil: bool = False) -> _Household:
        district = self.rng.choice(tuple(DISTRICTS))
        address = (f"{DISTRICTS[district].name_zh}{self.rng.choice(STREETS)}{self.rng.randrange(1, 3000)}弄"
                   f"{self.rng.randrange(1, 40)}号{self.rng.randrange(101, 1802)}室")
        if category == "extreme_poverty":
            members = [self.person("head", (1930, 1975))]
        else:
            members = [self.person("head", (1940, 1990))]
            if self.rng.random() < 0.55:
                members.append(self.person("spouse", (1940, 1990)))
            for _ in range(self.rng.choice((0, 0, 1, 1, 2))):
                members.append(self.person("child", (2001, 2014)))
            if pupil and not any(m.relation == "child" for m in members):
                members.append(self.person("child", (2005, 2012)))
        colour = self.rng.choices(list(COLOUR_WEIGHTS), weights=list(COLOUR_WEIGHTS.values()))[0]
        first_day = self.rng.randrange(30, YEAR_DAYS - 60) if self.rng.random() < ASSUMED_SHARES["new_in_year"] else 0
        income = int(DIBAO_2017_FEN * self.rng.uniform(0.1, 0.9 if category == "dibao" else 1.8))
        self.figures[f"households.{category}"] += 1
        self.figures[f"colour.{colour}"] += 1
        return _Household(number, district, address, category, colour, income, members, first_day)

    def report(self, department: str, household: _Household, day: int) -> None:
        members = [{"resident_id": p.resident_id, "name": p.name, "birth_date": p.born.isoformat(), "sex": p.sex,
                    "relation": p.relation} for p in household.members]
        data = {"district": household.district, "address": household.address, "category": household.category,
                "colour": household.colour, "monthly_income_per_capita_fen": household.income_fen, "members": members}
        self.add(self.envelope(department, "household.reported", self.ref(department, household), day, data), day)

    def grant(self, department: str, household: _Household, day: int, programme: str, *, person: _Person | None,
              amount_fen: int | None = None, in_kind: str | None = None, days: int | None = None) -> str:
        """A grant; `days` None = open-ended (a recurring allowance). Returns its namespaced id."""
        own = self.next_id(department, "b")
        data: dict[str, Any] = {"benefit_id": own, "programme": programme, "period_start": _day(day).isoformat()}
        if person is not None:
            data["resident_id"] = person.resident_id
        if amount_fen is not None:
            data["amount_fen"] = amount_fen
        if in_kind is not None:
            data["in_kind"] = in_kind
        if days is not None:
            data["period_end"] = (_day(day) + timedelta(days=days - 1)).isoformat()
        self.add(self.envelope(department, "benefit.granted", self.ref(department, household), day, data), day)
        self.figures[f"grants.{programme}"] += 1
        self.grants.append((f"{department}:{own}", programme))
        return f"{department}:{own}"

    # --- one household's year ------------------------------------------------------------------

    def plan_household(self, number: int) -> None:
        overlap = self.overlap_kind(number)
        category = overlap[1] if overlap else self.rng.choices(list(CATEGORY_SHARES), weights=list(CATEGORY_SHARES.values()))[0]
        household = self.household(number, category, pupil=overlap is not None and overlap[0] == "R-ONCE-EDUCATION-120D")
        if overlap is not None:
            household.first_day = 0  # in the register all year, so that the seeded pair fits in it
        self.grants = []
        reported: dict[str, int] = {}

        def served(department: str, day: int) -> int:
            """The department reports the household the first time it serves it."""
            day = max(day, household.first_day)
            if department not in reported:
                reported[department] = day
                self.report(department, household, day)
            return max(day, reported[department])

        start = served("CA", household.first_day)
        head = household.members[0]
        persons = len(household.members)
        rule = overlap[0] if overlap else None
        # Basic living: one of dibao, extreme-poverty support, expenditure-type poverty aid.
        if category == "dibao":
            own = self.grant("CA", household, start, "DIBAO", person=None, amount_fen=DIBAO_2017_FEN * persons)
            self.dibao_year(household, start, own.split(":", 1)[1], touchable=rule is None)
        elif category == "extreme_poverty":
            self.grant("CA", household, start, "EXTREME_POVERTY", person=head, amount_fen=SUPPORT_FEN)
        elif category == "expenditure_poverty":
            self.grant("CA", household, start, "EXPENDITURE_POVERTY", person=None, amount_fen=self.rng.randrange(50_000, 150_000), days=180)
        # Counted programmes, at the paper's rates.
        for _ in range(self.count(PER_HOUSEHOLD["MEDICAL"], most=6)):
            day = served("HEALTH", self.day_after(start))
            self.grant("HEALTH", household, day, "MEDICAL", person=self.rng.choice(household.members),
                       amount_fen=self.rng.randrange(30_000, 800_000), days=1)
        if rule != "R-ONCE-TEMPORARY-90D":
            self.temporary(household, start, self.count(PER_HOUSEHOLD["TEMPORARY"], most=3))
        disabled = [p for p in household.members if p.relation != "child"]
        if category != "extreme_poverty" and rule != "R-EXCL-DIBAO-EXTREME" and self.rng.random() < PER_HOUSEHOLD["SEVERE_DISABILITY"]:
            day = served("DPF", self.day_after(start))
            self.grant("DPF", household, day, "SEVERE_DISABILITY", person=self.rng.choice(disabled), amount_fen=SUPPORT_FEN)
        if self.rng.random() < PER_HOUSEHOLD["GRAIN_OIL"]:
            self.grant("CA", household, self.day_after(start), "GRAIN_OIL", person=None, in_kind="大米10公斤、食用油5升", days=1)
        if self.rng.random() < PER_HOUSEHOLD["COMMUNITY_AID"]:
            self.grant("CA", household, self.day_after(start), "COMMUNITY_AID", person=None, in_kind="社区上门照料", days=90)
        # Assumed shares.
        pupils = [p for p in household.members if p.relation == "child"]
        if pupils and rule != "R-ONCE-EDUCATION-120D" and self.rng.random() < ASSUMED_SHARES["EDUCATION"] * 2:
            self.education(household, served, self.rng.choice(pupils), second_after=None)
        if self.rng.random() < ASSUMED_SHARES["EMPLOYMENT"]:
            day = served("HRSS", self.day_after(start))
            self.grant("HRSS", household, day, "EMPLOYMENT", person=head, amount_fen=self.rng.randrange(50_000, 200_000), days=180)
        housing = self.rng.random()
        if rule != "R-EXCL-RENTAL-REPAIR" and housing < ASSUMED_SHARES["RENTAL_HOUSING"]:
            day = served("HOUSING", self.day_after(start))
            self.grant("HOUSING", household, day, "RENTAL_HOUSING", person=None, amount_fen=self.rng.randrange(50_000, 150_000))
        elif rule != "R-EXCL-RENTAL-REPAIR" and housing < ASSUMED_SHARES["RENTAL_HOUSING"] + ASSUMED_SHARES["HOUSE_REPAIR"]:
            day = served("HOUSING", self.day_after(start))
            self.grant("HOUSING", household, day, "HOUSE_REPAIR", person=None, in_kind="危旧房修缮", days=60)
        if category != "expenditure_poverty" and self.rng.random() < ASSUMED_SHARES["UNION_HARDSHIP"]:
            day = served("UNION", self.day_after(start))
            self.grant("UNION", household, day, "UNION_HARDSHIP", person=head, amount_fen=self.rng.randrange(50_000, 200_000), days=30)
        if self.rng.random() < ASSUMED_SHARES["need"] * (2 if household.colour in ("red", "orange") else 1):
            self.need(household, self.day_after(start))
        if rule is not None:
            self.seed_overlap(rule, household, served, start)

    def overlap_kind(self, number: int) -> tuple[str, str] | None:
        if not self.overlap_every or number % self.overlap_every != self.overlap_every // 2:
            return None
        return OVERLAP_KINDS[(number // self.overlap_every) % len(OVERLAP_KINDS)]

    def count(self, mean: float, most: int) -> int:
        """A Poisson count by inversion, at most `most` (the caps keep the background within policy)."""
        threshold, k, product = pow(2.718281828459045, -mean), 0, self.rng.random()
        while product > threshold and k < most:
            k += 1
            product *= self.rng.random()
        return k

    def day_after(self, start: int, margin: int = 1) -> int:
        return self.rng.randrange(min(start + margin, YEAR_DAYS - 2), YEAR_DAYS - 1)

    def dibao_year(self, household: _Household, start: int, own: str, touchable: bool) -> None:
        """Income changes and exits during the year; a dibao grant still running gets the 1 April change."""
        ended = False
        if touchable and self.rng.random() < ASSUMED_SHARES["dibao_changed"]:
            day = self.day_after(start, 30)
            data = {"benefit_id": own, "effective_on": _day(day).isoformat(),
                    "amount_fen": int(DIBAO_2017_FEN * len(household.members) * self.rng.uniform(0.6, 1.0)), "reason": "家庭收入变化"}
            self.add(self.envelope("CA", "benefit.changed", self.ref("CA", household), day, data), day)
            start = day
        if touchable and self.rng.random() < ASSUMED_SHARES["dibao_ended"]:
            day = self.day_after(start, 30)
            data = {"benefit_id": own, "ended_on": _day(day).isoformat(), "reason": "家庭收入超过低保标准"}
            self.add(self.envelope("CA", "benefit.ended", self.ref("CA", household), day, data), day)
            ended = True
        if not ended:
            self.running_dibao.append((household, own))

    def temporary(self, household: _Household, start: int, grants: int) -> list[str]:
        """Temporary assistance at least 100 days apart (the policy: not twice within 90), small
        enough that neither the monthly nor the yearly cash cap is reached."""
        if grants == 0 or start + 100 * (grants - 1) >= YEAR_DAYS - 1:
            return []
        first = self.rng.randrange(start, YEAR_DAYS - 1 - 100 * (grants - 1))
        return [self.grant("CA", household, first + 100 * i, "TEMPORARY", person=None,
                           amount_fen=self.rng.randrange(50_000, 150_000), days=1) for i in range(grants)]

    def education(self, household: _Household, served: Any, pupil: _Person, second_after: int | None) -> list[str]:
        """One grant a term: the spring term (1 March) and the autumn term (1 September) are 184
        days apart, so apart by more than the policy's 120 days; or a second grant `second_after`
        days after the first (an overlap)."""
        terms = [date(2017, 9, 1), date(2018, 3, 1)]
        days = [(term - YEAR_START).days for term in terms if (term - YEAR_START).days >= household.first_day]
        if not days:
            return []
        if second_after is not None:
            days = [days[0], days[0] + second_after]
        ids = []
        for day in days:
            ids.append(self.grant("EDU", household, served("EDU", day), "EDUCATION", person=pupil, amount_fen=self.rng.randrange(50_000, 300_000), days=1))
        return ids

    def need(self, household: _Household, day: int) -> None:
        low, high = URGENCY_OF_COLOUR[household.colour]
        own = self.next_id("CA", "n")
        data = {"need_id": own, "category": self.rng.choice(NEED_CATEGORIES), "description": "需求评估：见个案记录",
                "urgency": self.rng.randint(low, high), "assessed_on": _day(day).isoformat()}
        self.add(self.envelope("CA", "need.assessed", self.ref("CA", household), day, data), day)
        self.figures["needs"] += 1
        if self.rng.random() < ASSUMED_SHARES["need_withdrawn"] and day < YEAR_DAYS - 3:
            later = self.rng.randrange(day + 1, YEAR_DAYS - 1)
            data = {"need_id": own, "reason": "已通过其他途径解决"}
            self.add(self.envelope("CA", "need.withdrawn", self.ref("CA", household), later, data), later)

    def seed_overlap(self, rule: str, household: _Household, served: Any, start: int) -> None:
        head = household.members[0]
        day = self.rng.randrange(min(start + 20, YEAR_DAYS - 40), YEAR_DAYS - 30)
        if rule == "R-EXCL-DIBAO-EXTREME":
            dibao = self.first_grant("DIBAO")
            second = self.grant("CA", household, day, "EXTREME_POVERTY", person=head, amount_fen=SUPPORT_FEN)
            pair = (dibao, second)
        elif rule == "R-EXCL-EXTREME-DISABILITY":
            extreme = self.first_grant("EXTREME_POVERTY")
            second = self.grant("DPF", household, served("DPF", day), "SEVERE_DISABILITY", person=head, amount_fen=SUPPORT_FEN)
            pair = (extreme, second)
        elif rule == "R-EXCL-RENTAL-REPAIR":
            first = self.grant("HOUSING", household, served("HOUSING", start), "RENTAL_HOUSING", person=None, amount_fen=80_000)
            second = self.grant("HOUSING", household, served("HOUSING", day), "HOUSE_REPAIR", person=None, in_kind="危旧房修缮", days=60)
            pair = (first, second)
        elif rule == "R-EXCL-UNION-EXPENDITURE":
            expenditure = self.first_grant("EXPENDITURE_POVERTY")
            second = self.grant("UNION", household, served("UNION", start + 10), "UNION_HARDSHIP", person=head, amount_fen=100_000, days=30)
            pair = (expenditure, second)
        elif rule == "R-ONCE-TEMPORARY-90D":
            earlier = max(day - 30, start)  # never before the household is reported (day 0 at the earliest)
            first = self.grant("CA", household, earlier, "TEMPORARY", person=None, amount_fen=100_000, days=1)
            second = self.grant("CA", household, earlier + 30, "TEMPORARY", person=None, amount_fen=100_000, days=1)
            pair = (first, second)
        else:  # R-ONCE-EDUCATION-120D: a pupil paid twice for one term by two offices
            pupil = next(p for p in household.members if p.relation == "child")
            ids = self.education(household, served, pupil, second_after=60)
            pair = (ids[0], ids[1])
        self.overlaps.append(Overlap(rule, pair))
        self.figures[f"overlaps.{rule}"] += 1

    def first_grant(self, programme: str) -> str:
        return next(benefit for benefit, granted in self.grants if granted == programme)

    # --- invalid events ----------------------------------------------------------------------

    def invalid(self, number: int) -> None:
        """An event intake must refuse, with the reason it must give; ways cycle through INVALID."""
        way = INVALID[number % len(INVALID)]
        day = self.rng.randrange(1, YEAR_DAYS - 1)
        self.figures[f"invalid.{way}"] += 1
        department = "CA"
        ref = f"{self.tag}-CA-HH-{self.rng.randrange(0, max(1, number)):07d}"
        grant = {"benefit_id": self.next_id("CA", "bad"), "programme": "TEMPORARY", "amount_fen": 100_000,
                 "period_start": _day(day).isoformat(), "period_end": _day(day).isoformat()}
        if way == "payload.not_json":
            event = self.envelope(department, "benefit.granted", ref, day, grant)
            value = b'{"event_id": "' + event["event_id"].encode() + b'", "type": "benefit.gra'
            planned = Planned(department, "kafka", ref, value, None, "unreadable", way, _day(day))
            self.order += 1
            self.timeline.append((day, self.order, planned))
            return
        if way == "household.unknown":
            event = self.envelope(department, "benefit.granted", f"{self.tag}-CA-NEVER-{number}", day, grant)
        elif way == "resident_id.format":
            # Letters where digits belong: no repair can use it (a damaged check character is
            # repaired against the household's members, so it is not refused any more).
            event = self.envelope(department, "benefit.granted", ref, day, {**grant, "resident_id": "310115198OAB1234X5"})
        elif way == "programme.unknown":
            event = self.envelope(department, "benefit.granted", ref, day, {**grant, "programme": "FREE_LUNCH"})
        elif way == "amount.negative":
            event = self.envelope(department, "benefit.granted", ref, day, {**grant, "amount_fen": -500})
        elif way == "period.end_before_start":
            event = self.envelope(department, "benefit.granted", ref, day, {**grant, "period_end": (_day(day) - timedelta(days=10)).isoformat()})
        elif way == "district.unknown":
            event = self.envelope(department, "household.reported", f"{self.tag}-CA-BAD-{number}", day, {
                "district": "999999", "address": "某区某路1号", "members": [{"name": "王*", "relation": "head"}]})
        elif way == "text.too_long":
            event = self.envelope(department, "need.assessed", ref, day, {
                "need_id": self.next_id("CA", "n"), "category": "care", "description": "很" * 600, "urgency": 3,
                "assessed_on": _day(day).isoformat()})
        else:  # department.topic_mismatch: on civil affairs' topic, an event that says it is from health
            event = self.envelope(department, "benefit.granted", ref, day, {**grant, "programme": "MEDICAL"})
            event["source"] = "HEALTH"
            value = orjson.dumps(event)
            planned = Planned(department, "kafka", ref, value, event["event_id"], "benefit.granted", way, _day(day))
            self.order += 1
            self.timeline.append((day, self.order, planned))
            return
        self.add(event, day, expected=way)
        self.figures[f"events.{event['type']}"] -= 1  # counted among the invalid, not the year's events

    # --- the 1 April standard change -----------------------------------------------------------

    def burst(self) -> list[Planned]:
        events = []
        for household, own in self.running_dibao:
            data = {"benefit_id": own, "effective_on": STANDARD_CHANGE.isoformat(),
                    "amount_fen": DIBAO_2018_FEN * len(household.members), "reason": "2018年4月1日起低保标准调整为每人每月1070元"}
            event = self.envelope("CA", "benefit.changed", self.ref("CA", household), YEAR_DAYS, data)
            events.append(Planned("CA", "kafka", event["household_id"], _compact(orjson.dumps(event)), event["event_id"],
                                  "benefit.changed", ACCEPTED, STANDARD_CHANGE))
        return events


INVALID = (
    "payload.not_json", "household.unknown", "resident_id.format", "programme.unknown", "amount.negative",
    "period.end_before_start", "district.unknown", "text.too_long", "department.topic_mismatch",
)


def _compact(value: bytes) -> bytes:
    """A copy of exactly its size: orjson's bytes keep the 4 KiB it started with, which a
    city's 1.4 million events turn into 6 GB."""
    return bytes(memoryview(value))


def _day(day: int) -> date:
    return YEAR_START + timedelta(days=day)


def plan_year(
    households: int,
    seed: int = 0,
    tag: str | None = None,
    overlap_share: float = 0.005,
    invalid_share: float = 0.01,
    resend_share: float = 0.002,
    withdrawals: bool = True,
) -> Year:
    """The year's events in time order (one household's events keep their order), the overlaps
    seeded, the burst of 1 April, and the figures the generator used."""
    planner = _Planner(seed, tag or f"s{seed}", overlap_share, invalid_share, resend_share)
    for number in range(households):
        planner.plan_household(number)
    valid = len(planner.timeline)
    for number in range(round(valid * invalid_share)):
        planner.invalid(number)
    timeline = sorted(planner.timeline, key=lambda item: item[:2])
    events = [planned for *_, planned in timeline]
    if not withdrawals:
        events = [e for e in events if e.event_type != "need.withdrawn"]
    planner.figures["households"] = households
    return Year(events, planner.overlaps, planner.burst(), planner.figures)
