"""Is a department event acceptable? The contract first, then the rules a caseworker expects.

Pure: no Kafka, no HTTP, no SQL, no clock (the caller passes `now`). Every failure is a `Problem`
with a stable reason code (programs count them) and a message (people read them). Reason codes
are listed in docs/intake.md; never rename one, add a new one instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import orjson
from pydantic import ValidationError

from contracts.catalogue import DEPARTMENTS, DISTRICTS, PROGRAMMES
from contracts.department import (
    DEPARTMENT_EVENTS,
    BenefitChanged,
    BenefitEnded,
    BenefitGranted,
    DepartmentEvent,
    HouseholdReported,
    NeedAssessed,
    NeedWithdrawn,
)
from contracts.envelope import UnknownEventType
from services.intake.resident_id import IdReason, normalise_resident_id, validate_resident_id

# The hub's clock for "today": assistance is administered in China Standard Time.
CHINA_TIME = timezone(timedelta(hours=8))
# Need and benefit ids travel on as DEPT:own-id, which must still be a code (at most 64 characters).
MAX_NAMESPACED_ID = 64


class ReasonCode(StrEnum):
    """Stable reason codes; resident ID codes (resident_id.*) come from resident_id.IdReason."""

    PAYLOAD_TOO_LARGE = "payload.too_large"
    PAYLOAD_NOT_JSON = "payload.not_json"
    PAYLOAD_NOT_OBJECT = "payload.not_object"
    EVENT_UNKNOWN_TYPE = "event.unknown_type"
    FIELD_MISSING = "field.missing"
    FIELD_UNKNOWN = "field.unknown"
    FIELD_INVALID = "field.invalid"
    TEXT_TOO_LONG = "text.too_long"
    DEPARTMENT_UNKNOWN = "department.unknown"
    DEPARTMENT_TOPIC_MISMATCH = "department.topic_mismatch"
    HOUSEHOLD_REF_MISSING = "household.ref_missing"
    HOUSEHOLD_UNKNOWN = "household.unknown"
    DISTRICT_UNKNOWN = "district.unknown"
    PROGRAMME_UNKNOWN = "programme.unknown"
    PROGRAMME_NOT_OF_DEPARTMENT = "programme.not_of_department"
    AMOUNT_NEGATIVE = "amount.negative"
    AMOUNT_TOO_LARGE = "amount.too_large"
    BENEFIT_VALUE_MISSING = "benefit.value_missing"
    PERIOD_END_BEFORE_START = "period.end_before_start"
    DATE_IN_FUTURE = "date.in_future"
    MEMBERS_DUPLICATE_RESIDENT_ID = "members.duplicate_resident_id"
    ID_TOO_LONG = "id.too_long"


@dataclass(frozen=True)
class Limits:
    """Bounds a sane event stays within; the defaults suit a city's assistance programmes."""

    max_event_bytes: int = 64 * 1024
    max_amount_fen: int = 100_000_000  # 1,000,000 CNY: above any single grant or monthly allowance
    clock_skew: timedelta = timedelta(minutes=10)  # for occurred_at
    fact_tolerance: timedelta = timedelta(days=1)  # birth dates, assessments: facts, not plans
    schedule_horizon: timedelta = timedelta(days=366)  # a grant, change or end may be scheduled ahead


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    field: str | None = None


@dataclass(frozen=True)
class Valid:
    """An acceptable event; `flaws` are problems it is used despite (a member's damaged resident
    ID number), which the department is told about."""

    event: DepartmentEvent
    payload: dict[str, Any]
    flaws: tuple[Problem, ...] = ()

    @property
    def department(self) -> str:
        return self.event.source

    @property
    def household_ref(self) -> str:
        assert self.event.household_id is not None  # checked in validation
        return self.event.household_id


@dataclass(frozen=True)
class Invalid:
    problems: list[Problem]
    event_id: str | None = None
    correlation_id: str | None = None
    department: str | None = None
    household_ref: str | None = None
    payload: dict[str, Any] | None = None
    raw_text: str | None = field(default=None, repr=False)
    too_large: bool = False


Verdict = Valid | Invalid


def validate(raw: bytes, channel_department: str, now: datetime, limits: Limits = Limits()) -> Verdict:
    """The one validation both ways in share: a Kafka record's value or one item of an HTTP batch.

    `channel_department` is the department whose topic the record came from, or whose API key
    posted it; an event must name that department as its source.
    """
    if len(raw) > limits.max_event_bytes:
        message = f"The event is {len(raw)} bytes; at most {limits.max_event_bytes} are accepted."
        return Invalid([Problem(ReasonCode.PAYLOAD_TOO_LARGE, message)], department=channel_department, too_large=True)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw.decode("utf-8", errors="replace")
        problem = Problem(ReasonCode.PAYLOAD_NOT_JSON, "The event is not valid UTF-8 JSON.")
        return Invalid([problem], department=channel_department, raw_text=text)
    if not isinstance(body, dict):
        problem = Problem(ReasonCode.PAYLOAD_NOT_OBJECT, "An event must be a JSON object.")
        return Invalid([problem], department=channel_department, raw_text=raw.decode("utf-8", errors="replace"))
    return validate_object(body, channel_department, now, limits)


def validate_object(body: dict[str, Any], channel_department: str, now: datetime, limits: Limits = Limits()) -> Verdict:
    try:
        event = DEPARTMENT_EVENTS.parse(body)
    except UnknownEventType as error:
        return _invalid(body, channel_department, [Problem(ReasonCode.EVENT_UNKNOWN_TYPE, str(error), "type")])
    except ValidationError as error:
        return _invalid(body, channel_department, _contract_problems(error))
    problems = rule_problems(event, channel_department, now, limits)  # type: ignore[arg-type]
    flaws = [p for p in problems if _usable_despite(p)]
    beneficiary = {p.code for p in flaws if p.field == BENEFICIARY}
    if len(flaws) < len(problems) or (beneficiary and str(IdReason.CHECKSUM) not in beneficiary):
        return _invalid(body, channel_department, problems)
    return Valid(event, body, tuple(flaws))  # type: ignore[arg-type]


# A member's damaged number (wrong check character, length or encoded date, or a birth date that
# disagrees with the stated one) still leaves name, birth date and address to identify them:
# intake links (or holds) and tells the department.
REPAIRABLE = frozenset(str(code) for code in IdReason)
_MEMBER_NUMBER = re.compile(r"data\.members\[\d+\]\.resident_id")


# A need's or benefit's number that fails its check character may still be one slip from a
# member of the household: intake decides (it rejects the event when no member is).
REPAIRABLE_BENEFICIARY = frozenset({str(IdReason.CHECKSUM), str(IdReason.BIRTH_DATE_INVALID)})
BENEFICIARY = "data.resident_id"


def _usable_despite(problem: Problem) -> bool:
    if problem.field == BENEFICIARY:
        return problem.code in REPAIRABLE_BENEFICIARY
    return problem.code in REPAIRABLE and problem.field is not None and _MEMBER_NUMBER.fullmatch(problem.field) is not None


def flawed_member(problem: Problem) -> int:
    """The member index a flaw's field names: data.members[2].resident_id -> 2; -1 for the
    need's or benefit's own `data.resident_id`."""
    assert problem.field is not None
    if problem.field == BENEFICIARY:
        return -1
    return int(problem.field.split("[", 1)[1].split("]", 1)[0])


def rule_problems(event: DepartmentEvent, channel_department: str, now: datetime, limits: Limits) -> list[Problem]:
    """The rules beyond the contract's shapes, in a fixed order."""
    today = now.astimezone(CHINA_TIME).date()
    problems = _envelope_problems(event, channel_department, now, limits)
    match event:
        case HouseholdReported():
            problems += _household_problems(event, today, limits)
        case NeedAssessed():
            problems += _id_problems(event.source, event.data.need_id, "data.need_id")
            problems += _resident_id_problems(event.data.resident_id, None, today, "data.resident_id")
            problems += _not_after(event.data.assessed_on, today + limits.fact_tolerance, "data.assessed_on")
        case NeedWithdrawn():
            problems += _id_problems(event.source, event.data.need_id, "data.need_id")
        case BenefitGranted():
            problems += _granted_problems(event, today, limits)
        case BenefitChanged():
            problems += _id_problems(event.source, event.data.benefit_id, "data.benefit_id")
            problems += _amount_problems(event.data.amount_fen, limits, "data.amount_fen")
            problems += _not_after(event.data.effective_on, today + limits.schedule_horizon, "data.effective_on")
            problems += _period_problems(event.data.effective_on, event.data.period_end)
        case BenefitEnded():
            problems += _id_problems(event.source, event.data.benefit_id, "data.benefit_id")
            problems += _not_after(event.data.ended_on, today + limits.schedule_horizon, "data.ended_on")
    return problems


def _envelope_problems(event: DepartmentEvent, channel_department: str, now: datetime, limits: Limits) -> list[Problem]:
    problems: list[Problem] = []
    if event.source not in DEPARTMENTS:
        problems.append(Problem(ReasonCode.DEPARTMENT_UNKNOWN, f"Unknown department code {event.source!r}.", "source"))
    elif event.source != channel_department:
        message = f"Source {event.source!r} differs from the department {channel_department!r} this came from."
        problems.append(Problem(ReasonCode.DEPARTMENT_TOPIC_MISMATCH, message, "source"))
    if not event.household_id:
        message = "household_id must carry the department's own household reference."
        problems.append(Problem(ReasonCode.HOUSEHOLD_REF_MISSING, message, "household_id"))
    if event.occurred_at > now + limits.clock_skew:
        message = f"occurred_at {event.occurred_at.isoformat()} is in the future."
        problems.append(Problem(ReasonCode.DATE_IN_FUTURE, message, "occurred_at"))
    return problems


def _household_problems(event: HouseholdReported, today: date, limits: Limits) -> list[Problem]:
    data = event.data
    problems: list[Problem] = []
    if data.district not in DISTRICTS:
        problems.append(Problem(ReasonCode.DISTRICT_UNKNOWN, f"Unknown district code {data.district!r}.", "data.district"))
    problems += _amount_problems(data.monthly_income_per_capita_fen, limits, "data.monthly_income_per_capita_fen")
    seen: set[str] = set()
    for index, member in enumerate(data.members):
        where = f"data.members[{index}]"
        problems += _not_after(member.birth_date, today + limits.fact_tolerance, f"{where}.birth_date")
        problems += _resident_id_problems(member.resident_id, member.birth_date, today, f"{where}.resident_id")
        if member.resident_id:
            number = normalise_resident_id(member.resident_id)
            if number in seen:
                message = "The same resident ID number appears twice in one household."
                problems.append(Problem(ReasonCode.MEMBERS_DUPLICATE_RESIDENT_ID, message, f"{where}.resident_id"))
            seen.add(number)
    return problems


def _granted_problems(event: BenefitGranted, today: date, limits: Limits) -> list[Problem]:
    data = event.data
    problems: list[Problem] = []
    programme = PROGRAMMES.get(data.programme)
    if programme is None:
        problems.append(Problem(ReasonCode.PROGRAMME_UNKNOWN, f"Unknown programme code {data.programme!r}.", "data.programme"))
    elif programme.department != event.source:
        message = f"Programme {data.programme!r} is run by {programme.department}, not {event.source}."
        problems.append(Problem(ReasonCode.PROGRAMME_NOT_OF_DEPARTMENT, message, "data.programme"))
    problems += _id_problems(event.source, data.benefit_id, "data.benefit_id")
    problems += _id_problems(event.source, data.need_id, "data.need_id")
    problems += _amount_problems(data.amount_fen, limits, "data.amount_fen")
    if data.amount_fen is None and not data.in_kind:
        message = "A grant needs an amount in fen or an in-kind description."
        problems.append(Problem(ReasonCode.BENEFIT_VALUE_MISSING, message, "data.amount_fen"))
    problems += _period_problems(data.period_start, data.period_end)
    problems += _not_after(data.period_start, today + limits.schedule_horizon, "data.period_start")
    problems += _resident_id_problems(data.resident_id, None, today, "data.resident_id")
    return problems


def _id_problems(department: str, own_id: str | None, where: str) -> list[Problem]:
    if own_id is None or len(department) + 1 + len(own_id) <= MAX_NAMESPACED_ID:
        return []
    message = f"An id may have at most {MAX_NAMESPACED_ID - len(department) - 1} characters for department {department}."
    return [Problem(ReasonCode.ID_TOO_LONG, message, where)]


def _resident_id_problems(raw: str | None, stated_birth_date: date | None, today: date, where: str) -> list[Problem]:
    if raw is None:
        return []
    return [Problem(str(p.code), p.message, where) for p in validate_resident_id(raw, stated_birth_date, today)]


def _amount_problems(amount: int | None, limits: Limits, where: str) -> list[Problem]:
    if amount is None:
        return []
    if amount < 0:
        return [Problem(ReasonCode.AMOUNT_NEGATIVE, "Amounts are non-negative integers in fen.", where)]
    if amount > limits.max_amount_fen:
        message = f"{amount} fen is above the bound of {limits.max_amount_fen} fen; amounts are in fen, not yuan."
        return [Problem(ReasonCode.AMOUNT_TOO_LARGE, message, where)]
    return []


def _period_problems(start: date, end: date | None) -> list[Problem]:
    if end is not None and end < start:
        message = f"The period ends on {end.isoformat()}, before it starts on {start.isoformat()}."
        return [Problem(ReasonCode.PERIOD_END_BEFORE_START, message, "data.period_end")]
    return []


def _not_after(value: date | None, latest: date, where: str) -> list[Problem]:
    if value is not None and value > latest:
        return [Problem(ReasonCode.DATE_IN_FUTURE, f"{value.isoformat()} is too far in the future.", where)]
    return []


_CONTRACT_CODES = {
    "missing": ReasonCode.FIELD_MISSING,
    "extra_forbidden": ReasonCode.FIELD_UNKNOWN,
    "string_too_long": ReasonCode.TEXT_TOO_LONG,
    "too_long": ReasonCode.TEXT_TOO_LONG,
}
MAX_PROBLEMS = 20


def _contract_problems(error: ValidationError) -> list[Problem]:
    problems = []
    for detail in error.errors(include_url=False, include_input=False)[:MAX_PROBLEMS]:
        where = _field_path(detail["loc"])
        code = _CONTRACT_CODES.get(detail["type"], ReasonCode.FIELD_INVALID)
        problems.append(Problem(code, f"{where}: {detail['msg']}", where))
    return problems


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _invalid(body: dict[str, Any], channel_department: str, problems: list[Problem]) -> Invalid:
    return Invalid(
        problems,
        event_id=_text(body.get("event_id")),
        correlation_id=_text(body.get("correlation_id")),
        department=channel_department,
        household_ref=_text(body.get("household_id")),
        payload=body,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
