"""The charity side of `hub simulate`: which organisations register, what they offer, and how
they answer the proposals that matching makes. Pure: no HTTP, no clock (today is given).

Figures (DESIGN.md, Chengdu, seed 002): a city of 50 social-work agencies; one district ran 3,996
needs assessments and 2,358 tailored plans in three years, so a social force takes up about
2,358 / 3,996 = 59% of the needs assessed. Assumed here, so that they can be argued with:
- one organisation per 4,000 assisted households (Shanghai's 200,000 make Chengdu's 50), at
  least 4; kinds in the shares of `KIND_WEIGHTS`;
- the units offered in a category are that share of the year's needs in it (`coverage`), spread
  over the offerings of the category by districts served; the districts are shared out among
  the district-level organisations (each district to one; at Shanghai's scale 1 to 3 each),
  foundations and companies serve the whole city;
- answers: about 80% delivered, 15% declined with a coded reason, 5% accepted and then failed,
  drawn from the seed and the need (so the same year is answered the same way every time).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import orjson
from stdnum.cn import uscc

from contracts.catalogue import DISTRICTS

MET_SHARE = 2_358 / 3_996  # tailored plans per needs assessment (Chengdu district, seed 002)
HOUSEHOLDS_PER_ORGANISATION = 4_000  # assumed: Shanghai's 200,000 assisted households : Chengdu's 50 agencies
KIND_WEIGHTS = {"social_work_agency": 40, "charity": 25, "volunteer_group": 12, "foundation": 11, "company": 12}
CITYWIDE_KINDS = frozenset({"foundation", "company"})
ANSWER_WEIGHTS = {"deliver": 80, "decline": 15, "fail": 5}
DECLINE_WEIGHTS = {"no_capacity": 40, "unreachable": 25, "outside_area": 15, "not_eligible": 15, "other": 5}
OTHER_REASON = "志愿者本周外出，无法安排"  # said with reason code "other", which needs words

Outcome = Literal["deliver", "decline", "fail"]


@dataclass(frozen=True)
class Template:
    """One kind of offering: what it is, in which category, and under which CHARITY_* programme."""

    category: str
    programme: str
    kind: str  # goods, cash, service or place
    unit: str
    title: str
    description: str
    value_fen: int | None


TEMPLATES: dict[str, Template] = {t.title: t for t in (
    Template("food", "CHARITY_FOOD", "goods", "parcel", "爱心粮油包", "大米10公斤、食用油5升、鸡蛋一盒，送货上门", 15_000),
    Template("food", "CHARITY_FOOD", "service", "month", "老人助餐服务", "社区食堂每日午餐一个月", 30_000),
    Template("care", "CHARITY_SERVICE", "service", "visit", "居家照护上门服务", "社工或志愿者上门照护，每次两小时", 12_000),
    Template("care", "CHARITY_GOODS", "goods", "set", "冬季御寒包", "棉被、棉衣和取暖器各一", 40_000),
    Template("medical", "CHARITY_MONEY", "cash", "grant", "大病医疗救助金", "自付医疗费用补助，每户一次", 300_000),
    Template("medical", "CHARITY_SERVICE", "service", "visit", "康复护理服务", "康复师上门指导与护理", 20_000),
    Template("education", "CHARITY_MONEY", "cash", "grant", "助学金", "困难家庭学生每学期学杂费补助", 200_000),
    Template("education", "CHARITY_GOODS", "goods", "set", "学习用品包", "书包、文具和课外读物", 8_000),
    Template("housing", "CHARITY_SERVICE", "service", "job", "居室适老化改造", "扶手、防滑地面和照明改造", 150_000),
    Template("employment", "CHARITY_SERVICE", "service", "course", "就业技能培训", "八周技能培训并推荐岗位", 50_000),
    Template("emergency", "CHARITY_MONEY", "cash", "grant", "临时困难救助金", "突发困难一次性救助", 100_000),
)}
OFFERED_BY_KIND: dict[str, tuple[str, ...]] = {
    "social_work_agency": ("居家照护上门服务", "康复护理服务", "就业技能培训", "居室适老化改造", "老人助餐服务"),
    "charity": ("爱心粮油包", "冬季御寒包", "学习用品包", "临时困难救助金"),
    "volunteer_group": ("居家照护上门服务", "老人助餐服务", "学习用品包"),
    "foundation": ("大病医疗救助金", "助学金", "临时困难救助金"),
    "company": ("爱心粮油包", "冬季御寒包", "就业技能培训", "居室适老化改造"),
}
NAME_WORDS = ("暖心", "阳光", "同心", "仁爱", "馨家", "乐善", "春晖", "启明", "和睦", "安康", "友邻", "益家", "绿叶", "朝阳", "慈航", "众福")
NAME_SUFFIX = {
    "social_work_agency": "社会工作服务中心", "charity": "公益服务中心", "volunteer_group": "志愿者服务队",
    "foundation": "慈善基金会", "company": "实业有限公司",
}
CONTACT_SURNAMES = "王张陈李徐朱周沈刘杨黄吴陆顾"
# Unified social credit code: registering body and kind (GB 32100-2015): 5 civil affairs (1 social
# group, 2 private non-enterprise unit, 3 foundation), 9 market regulation (1 enterprise).
REGISTRATION = {"social_work_agency": "52", "charity": "52", "volunteer_group": "51", "foundation": "53", "company": "91"}


@dataclass(frozen=True)
class OfferingPlan:
    template: Template
    quantity: int
    districts: tuple[str, ...]  # empty = citywide
    eligibility: tuple[tuple[str, Any], ...]
    valid_from: date
    valid_until: date

    @property
    def title(self) -> str:
        return self.template.title

    def body(self) -> dict[str, Any]:
        """What `POST /offerings` is sent."""
        t = self.template
        return {
            "title": t.title, "description": t.description, "category": t.category, "programme": t.programme, "kind": t.kind,
            "unit": t.unit, "quantity_total": self.quantity, "value_fen_per_unit": t.value_fen, "eligibility": dict(self.eligibility),
            "service_area": {"districts": list(self.districts)}, "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat(), "confirm_every_days": 30,
        }


@dataclass(frozen=True)
class OrganisationPlan:
    name: str
    kind: str
    credit_code: str
    districts: tuple[str, ...]  # empty = citywide
    contact_name: str
    contact_phone: str
    offerings: tuple[OfferingPlan, ...]

    def registration(self) -> dict[str, Any]:
        """What `POST /organisations` is sent."""
        return {"name": self.name, "kind": self.kind, "credit_code": self.credit_code, "districts": list(self.districts),
                "contact_name": self.contact_name, "contact_phone": self.contact_phone}


@dataclass
class CharityPlan:
    seed: int
    organisations: list[OrganisationPlan]
    figures: Counter[str] = field(default_factory=Counter)

    def units(self, category: str) -> int:
        return sum(o.quantity for org in self.organisations for o in org.offerings if o.template.category == category)


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    reason_code: str | None = None
    reason: str = ""


def credit_code(rng: random.Random, kind: str, district: str) -> str:
    """A valid unified social credit code: registering body and kind, region, organisation code
    (8 digits and its GB 11714 check character), and the USCC check character (python-stdnum)."""
    body = "".join(rng.choice("0123456789") for _ in range(8))
    total = sum(int(d) * w for d, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    check = {10: "X", 11: "0"}.get(11 - total % 11, str(11 - total % 11))
    first17 = f"{REGISTRATION[kind]}{district}{body}{check}"
    return first17 + uscc.calc_check_digit(first17)


def plan_charities(
    needs: Counter[str], households: int, seed: int, today: date, coverage: float = MET_SHARE, exclusive: bool = False,
) -> CharityPlan:
    """Organisations, their districts and offerings, sized to `needs` (the year's needs by category).

    `exclusive`: each district is served in each category by exactly one offering (no citywide
    ones), so which offering a need meets does not depend on when it arrived; for comparing two
    runs of one seed."""
    rng = random.Random(f"charity:{seed}")
    count = max(4, round(households / HOUSEHOLDS_PER_ORGANISATION))
    kinds = [rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0] for _ in range(count)]
    if exclusive:
        kinds = [k if k not in CITYWIDE_KINDS else "social_work_agency" for k in kinds]
    local = [i for i, k in enumerate(kinds) if k not in CITYWIDE_KINDS]
    areas = _share_districts(rng, len(local)) if local else []
    organisations_areas = {i: areas[n] for n, i in enumerate(local)}
    one_per_category = tuple({t.category: t.title for t in TEMPLATES.values()}.values())
    offered = {i: one_per_category if exclusive else OFFERED_BY_KIND[k] for i, k in enumerate(kinds)}
    _cover_every_category(rng, needs, kinds, offered)
    units = _units_per_offering(needs, offered, organisations_areas, coverage)
    used_names: set[str] = set()
    organisations = []
    for i, kind in enumerate(kinds):
        districts = organisations_areas.get(i, ())
        home = districts[0] if districts else "310000"
        name = _name(rng, kind, home, used_names)
        offerings = tuple(
            OfferingPlan(TEMPLATES[title], units[(i, title)], districts, _eligibility(rng, TEMPLATES[title], exclusive),
                         today - timedelta(days=1), today + timedelta(days=365))
            for title in offered[i]
        )
        phone = f"13{rng.randrange(5, 10)}{rng.randrange(10**8):08d}"
        organisations.append(OrganisationPlan(name, kind, credit_code(rng, kind, home), districts,
                                              f"{rng.choice(CONTACT_SURNAMES)}老师", phone, offerings))
    plan = CharityPlan(seed, organisations)
    plan.figures.update({f"organisations.{k}": n for k, n in Counter(kinds).items()})
    plan.figures["offerings"] = sum(len(o.offerings) for o in organisations)
    for category in needs:
        plan.figures[f"units.{category}"] = plan.units(category)
    return plan


def _share_districts(rng: random.Random, organisations: int) -> list[tuple[str, ...]]:
    """Every district to exactly one local organisation, 1 to 3 each while they last; with more
    organisations than districts, the rest share a district each (one more in a busy district)."""
    codes = sorted(DISTRICTS)
    rng.shuffle(codes)
    groups: list[list[str]] = [[] for _ in range(organisations)]
    for n, code in enumerate(codes):
        groups[n % organisations].append(code)
    for n, group in enumerate(groups):
        if not group:
            group.append(codes[n % len(codes)])
    return [tuple(sorted(g)) for g in groups]


def _cover_every_category(rng: random.Random, needs: Counter[str], kinds: list[str], offered: dict[int, tuple[str, ...]]) -> None:
    """A category with needs and no offering gets one, from a citywide organisation if any."""
    for category in sorted(needs):
        if any(TEMPLATES[t].category == category for titles in offered.values() for t in titles):
            continue
        title = next(t.title for t in TEMPLATES.values() if t.category == category)
        citywide = [i for i, k in enumerate(kinds) if k in CITYWIDE_KINDS] or list(offered)
        chosen = rng.choice(citywide)
        offered[chosen] = (*offered[chosen], title)


def _units_per_offering(
    needs: Counter[str], offered: dict[int, tuple[str, ...]], areas: dict[int, tuple[str, ...]], coverage: float,
) -> dict[tuple[int, str], int]:
    """Each category's units (coverage x its needs) split over its offerings by districts served
    (a citywide offering counts as four districts)."""
    units = {}
    for category in sorted({TEMPLATES[t].category for titles in offered.values() for t in titles}):
        mine = [(i, t) for i, titles in offered.items() for t in titles if TEMPLATES[t].category == category]
        weights = [len(areas.get(i, ())) or 4 for i, _ in mine]
        total = max(len(mine), math.ceil(needs.get(category, 0) * coverage))
        for (i, title), weight in zip(mine, weights, strict=True):
            units[(i, title)] = max(1, math.ceil(total * weight / sum(weights)))
    return units


def _eligibility(rng: random.Random, template: Template, exclusive: bool) -> tuple[tuple[str, Any], ...]:
    if exclusive:
        return ()
    if template.kind == "cash" and rng.random() < 0.6:
        return (("household_categories", ["dibao", "low_income", "extreme_poverty", "expenditure_poverty"]),)
    return ()


def _name(rng: random.Random, kind: str, district: str, used: set[str]) -> str:
    place = DISTRICTS[district].name_zh if district in DISTRICTS else "上海市"
    for _ in range(100):
        name = f"{place}{rng.choice(NAME_WORDS)}{NAME_SUFFIX[kind]}" if kind != "company" else \
            f"上海{rng.choice(NAME_WORDS)}{NAME_SUFFIX[kind]}"
        if name not in used:
            used.add(name)
            return name
    name = f"{place}{len(used) + 1}号{NAME_SUFFIX[kind]}"
    used.add(name)
    return name


def answer(seed: int, need_id: str, offering_title: str, credit_code: str, attempt: int = 0) -> Answer:
    """How the organisation answers this proposal: the same seed, need, offering and attempt
    always give the same answer."""
    rng = random.Random(f"answer:{seed}:{need_id}:{credit_code}:{offering_title}:{attempt}")
    outcome: Outcome = rng.choices(list(ANSWER_WEIGHTS), weights=list(ANSWER_WEIGHTS.values()))[0]  # type: ignore[assignment]
    if outcome == "decline":
        code = rng.choices(list(DECLINE_WEIGHTS), weights=list(DECLINE_WEIGHTS.values()))[0]
        return Answer("decline", code, OTHER_REASON if code == "other" else "")
    if outcome == "fail":
        return Answer("fail", reason="三次上门均无人应答")
    return Answer("deliver")


def needs_by_category(values: list[bytes]) -> Counter[str]:
    """The year's needs by category, from the `need.assessed` events' JSON."""
    found: Counter[str] = Counter()
    for value in values:
        found[orjson.loads(value)["data"]["category"]] += 1
    return found


# --- what came of it ---------------------------------------------------------------------------------

FINAL = {"completed": "delivered", "rejected": "declined", "failed": "failed", "cancelled": "cancelled", "expired": "expired"}


@dataclass
class MatchLog:
    """What the matches topic said about this run's offerings: proposals made, and the household
    each delivery was published for (the inbox never shows it; the ledger is asked by it)."""

    offerings: set[str] = field(default_factory=set)
    proposed: dict[str, str] = field(default_factory=dict)  # match id -> offering id
    fulfilled: dict[str, str] = field(default_factory=dict)  # match id -> household id
    types: Counter[str] = field(default_factory=Counter)

    def take(self, event: dict[str, Any]) -> bool:
        """True when the event concerns one of this run's offerings."""
        data = event.get("data") or {}
        if data.get("offering_id") not in self.offerings:
            return False
        kind = event.get("type", "?")
        self.types[kind] += 1
        if kind == "match.proposed":
            self.proposed[data["match_id"]] = data["offering_id"]
        elif kind == "match.fulfilled":
            self.fulfilled[data["match_id"]] = event.get("household_id") or ""
        return True


@dataclass
class CharityTally:
    """The organisations' answers against what the charity service, matching and the ledger made of them."""

    organisations: int = 0
    offerings: int = 0
    answers: Counter[str] = field(default_factory=Counter)  # the answer drawn: deliver, decline, fail
    states: dict[str, str] = field(default_factory=dict)  # match id -> last state the inbox gave
    declines: Counter[str] = field(default_factory=Counter)  # by reason code
    delivered_fen: dict[str, int] = field(default_factory=dict)  # match id -> value delivered
    in_ledger: set[str] = field(default_factory=set)  # match ids the ledger shows as a charity benefit
    unmet: int | None = None  # open needs without a proposal, matching's own report
    unmet_by_reason: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def outcome(self, match_id: str, state: str, reason_code: str | None = None, amount_fen: int | None = None) -> None:
        self.states[match_id] = state
        if state == "rejected" and reason_code:
            self.declines[reason_code] += 1
        if state == "completed":
            self.delivered_fen[match_id] = amount_fen or 0

    def counts(self) -> Counter[str]:
        return Counter(FINAL.get(state, "unanswered") for state in self.states.values())

    def problems(self, log: MatchLog) -> list[str]:
        found = list(self.errors)
        unanswered = [m for m, s in self.states.items() if s not in FINAL]
        if unanswered:
            found.append(f"{len(unanswered)} proposal(s) left unanswered or undelivered (e.g. {unanswered[0]})")
        never_inbox = sorted(set(log.proposed) - set(self.states))
        if never_inbox:
            found.append(f"{len(never_inbox)} proposal(s) matching published never reached an inbox (e.g. {never_inbox[0]})")
        unpublished = sorted(set(self.delivered_fen) - set(log.fulfilled))
        if unpublished:
            found.append(f"{len(unpublished)} delivery(ies) recorded by the charity never published (e.g. {unpublished[0]})")
        missing = sorted(set(self.delivered_fen) - self.in_ledger - set(unpublished))
        if missing:
            found.append(f"{len(missing)} delivery(ies) recorded by the charity never reached the ledger as a charity benefit (e.g. {missing[0]})")
        return found

    def figures(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "organisations": self.organisations, "offerings": self.offerings, "proposals": len(self.states),
            "delivered": counts["delivered"], "value_delivered_fen": sum(self.delivered_fen.values()),
            "declined": dict(sorted(self.declines.items())), "failed": counts["failed"],
            "cancelled_or_expired": counts["cancelled"] + counts["expired"], "unanswered": counts["unanswered"],
            "deliveries_in_ledger": len(self.in_ledger & set(self.delivered_fen)),
            "unmet_needs": self.unmet, "unmet_by_reason": dict(sorted(self.unmet_by_reason.items())),
        }
