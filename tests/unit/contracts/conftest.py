"""A valid, fully filled example of every registered event, for the contract tests.

Adding an event to a registry without an example here fails `test_every_event_has_an_example`:
the example is the smallest piece of documentation an event needs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from contracts.department import DEPARTMENT_EVENTS
from contracts.envelope import Event, EventRegistry
from contracts.hub import HUB_EVENTS

AT = datetime(2026, 4, 1, 8, 30, tzinfo=timezone(timedelta(hours=8)))
HOUSEHOLD = "hh-7f3a9c"

_OFFERING = {
    "offering_id": "off-1",
    "charity_id": "charity-1",
    "title": "冬季粮油包",
    "category": "food",
    "programme": "CHARITY_FOOD",
    "quantity": 40,
    "unit": "parcel",
    "amount_fen_per_unit": 15000,
    "eligible_categories": ["dibao", "low_income"],
    "service_area": ["310104", "310105"],
    "valid_from": "2026-04-01",
    "valid_until": "2026-06-30",
}
_OFFERING_V2 = {
    "offering_id": "off-1",
    "charity_id": "charity-1",
    "title": "冬季粮油包",
    "description": "10 斤米、5 升油，社区服务站自取或送上门",
    "category": "food",
    "programme": "CHARITY_FOOD",
    "kind": "goods",
    "unit": "parcel",
    "quantity_total": 40,
    "quantity_remaining": 40,
    "value_fen_per_unit": 15000,
    "eligibility": {
        "household_categories": ["dibao", "low_income"],
        "colours": ["red", "orange"],
        "min_age": 60,
        "max_age": None,
        "disability_required": False,
        "registered_residence_required": False,
    },
    "service_area": {"districts": ["310104"], "subdistricts": ["田林街道"]},
    "valid_from": "2026-04-01",
    "valid_until": "2026-06-30",
    "status": "open",
    "closed_reason": None,
    "capacity_confirmed_at": "2026-04-01T09:00:00+08:00",
    "confirm_every_days": 14,
}
_OUTCOME = {"match_id": "m-1", "offering_id": "off-1", "need_id": "CA:need-1", "reason": "household reached"}

EXAMPLE_DATA: dict[tuple[str, int], dict[str, Any]] = {
    # --- from departments
    ("household.reported", 1): {
        "district": "310104",
        "subdistrict": "田林街道",
        "address": "田林路 100 弄 5 号 302 室",
        "category": "dibao",
        "colour": "orange",
        "monthly_income_per_capita_fen": 65000,
        "members": [
            {"resident_id": "310104198001011234", "name": "张伟", "birth_date": "1980-01-01", "sex": "M", "relation": "head"},
            {"resident_id": None, "name": "张小明", "birth_date": "2012-09-01", "sex": "M", "relation": "child"},
        ],
    },
    ("need.assessed", 1): {
        "need_id": "need-1",
        "category": "medical",
        "description": "慢性病门诊自付费用",
        "urgency": 4,
        "assessed_on": "2026-03-28",
        "resident_id": "310104198001011234",
    },
    ("need.withdrawn", 1): {"need_id": "need-1", "reason": "met by a department grant"},
    ("benefit.granted", 1): {
        "benefit_id": "ca-2026-0001",
        "programme": "DIBAO",
        "resident_id": None,
        "amount_fen": 107000,
        "in_kind": None,
        "period_start": "2026-04-01",
        "period_end": "2027-03-31",
        "need_id": "need-1",
    },
    ("benefit.changed", 1): {
        "benefit_id": "ca-2026-0001",
        "effective_on": "2026-07-01",
        "amount_fen": 110000,
        "in_kind": None,
        "period_end": None,
        "reason": "standard raised",
    },
    ("benefit.ended", 1): {"benefit_id": "ca-2026-0001", "ended_on": "2026-12-31", "reason": "income above threshold"},
    # --- canonical, from intake
    ("household.recorded", 1): {
        "department": "CA",
        "department_household_ref": "CA-HH-000123",
        "district": "310104",
        "subdistrict": "田林街道",
        "category": "dibao",
        "colour": "orange",
        "monthly_income_per_capita_fen": 65000,
        "members": [
            {"person_key": "pk-1", "display_name": "张*", "masked_resident_id": "310104********1234", "birth_year": 1980, "sex": "M", "relation": "head"}
        ],
    },
    ("need.recorded", 1): {
        "need_id": "CA:need-1",
        "department": "CA",
        "category": "medical",
        "description": "慢性病门诊自付费用",
        "urgency": 4,
        "assessed_on": "2026-03-28",
        "person_key": "pk-1",
    },
    ("benefit.recorded", 1): {
        "benefit_id": "CA:ca-2026-0001",
        "programme": "DIBAO",
        "source": "CA",
        "source_kind": "department",
        "person_key": None,
        "amount_fen": 107000,
        "in_kind": None,
        "period_start": "2026-04-01",
        "period_end": "2027-03-31",
        "need_id": "CA:need-1",
    },
    ("benefit.amended", 1): {
        "benefit_id": "CA:ca-2026-0001",
        "effective_on": "2026-07-01",
        "amount_fen": 110000,
        "in_kind": None,
        "period_end": None,
        "reason": "standard raised",
    },
    ("benefit.stopped", 1): {"benefit_id": "CA:ca-2026-0001", "ended_on": "2026-12-31", "reason": "income above threshold"},
    ("person.merged", 1): {
        "surviving_person_key": "p_3b9f0c2a",
        "merged_person_keys": ["p_u_71c4e0d9"],
        "reason": "numbered_record",
        "decided_by": None,
    },
    ("household.merged", 1): {
        "surviving_household_id": HOUSEHOLD,
        "merged_household_ids": ["hh-0c41d2"],
        "reason": "person_merged",
    },
    ("event.rejected", 1): {
        "original_event_id": "evt-42",
        "department": "CA",
        "topic": "dept.ca.events.v1",
        "channel": "kafka",
        "reasons": [{"code": "resident_id.checksum", "message": "check digit does not match", "field": "data.members[0].resident_id"}],
        "masked_payload": {"type": "household.reported", "data": {"members": [{"name": "张*"}]}},
        "payload_ref": None,
    },
    ("identity.review_requested", 1): {
        "record_id": "rec-1",
        "department": "HEALTH",
        "original_event_id": "evt-43",
        "candidates": [{"person_key": "pk-1", "score": 0.82}, {"person_key": "pk-2", "score": 0.41}],
    },
    ("data_quality.notice", 1): {
        "original_event_id": "evt-44",
        "department": "CA",
        "department_household_ref": "CA-HH-000123",
        "channel": "kafka",
        "code": "resident_id.checksum",
        "message": "The check character does not match; linked by name, birth date and address.",
        "field": "data.members[0].resident_id",
        "masked_resident_id": "310115********1234",
        "outcome": "linked",
    },
    # --- charity and matching
    ("offering.published", 1): _OFFERING,
    ("offering.changed", 1): {**_OFFERING, "quantity": 25},
    ("offering.withdrawn", 1): {"offering_id": "off-1", "charity_id": "charity-1", "reason": "stock exhausted"},
    ("match.proposed", 1): {
        "match_id": "m-1",
        "offering_id": "off-1",
        "charity_id": "charity-1",
        "need_id": "CA:need-1",
        "category": "food",
        "district": "310104",
        "urgency": 4,
        "quantity": 1,
        "expires_at": "2026-04-08T08:30:00+08:00",
    },
    ("offering.published", 2): _OFFERING_V2,
    ("offering.changed", 2): {**_OFFERING_V2, "quantity_remaining": 25},
    ("offering.closed", 1): {**_OFFERING_V2, "quantity_remaining": 0, "status": "closed", "closed_reason": "exhausted"},
    ("match.proposed", 2): {
        "match_id": "m-1",
        "offering_id": "off-1",
        "charity_id": "charity-1",
        "need_id": "CA:need-1",
        "category": "food",
        "district": "310104",
        "subdistrict": "田林街道",
        "household_size": 3,
        "urgency": 4,
        "quantity": 1,
        "expires_at": "2026-04-08T08:30:00+08:00",
        "priority": 4.25,
    },
    ("match.declined", 2): {
        "match_id": "m-1", "offering_id": "off-1", "need_id": "CA:need-1", "reason_code": "outside_area", "reason": "",
    },
    ("match.started", 1): {**_OUTCOME, "reason": ""},
    ("match.failed", 1): {**_OUTCOME, "reason": "household moved before delivery"},
    ("match.cancelled", 1): {
        "match_id": "m-1",
        "offering_id": "off-1",
        "need_id": "CA:need-1",
        "charity_id": "charity-1",
        "reason_code": "offering_withdrawn",
        "reason": "the organisation withdrew the offering",
    },
    ("need.closed", 1): {"need_id": "CA:need-1", "department": "CA", "reason": "met by a department grant"},
    ("need.overdue", 1): {
        "need_id": "CA:need-1",
        "category": "food",
        "district": "310104",
        "urgency": 5,
        "waiting_days": 4,
        "allowed_days": 2,
        "reason": "no_offering_in_area",
    },
    ("match.accepted", 1): _OUTCOME,
    ("match.declined", 1): {**_OUTCOME, "reason": "outside our area this month"},
    ("match.expired", 1): {**_OUTCOME, "reason": ""},
    ("match.fulfilled", 1): {
        "match_id": "m-1",
        "offering_id": "off-1",
        "need_id": "CA:need-1",
        "charity_id": "charity-1",
        "programme": "CHARITY_FOOD",
        "quantity": 1,
        "amount_fen": 15000,
        "in_kind": "粮油包 1 份",
        "delivered_on": "2026-04-03",
    },
    # --- ledger
    ("alert.raised", 1): {
        "alert_id": "al-1",
        "rule_id": "basic-living-exclusive",
        "severity": "high",
        "description": "DIBAO and UNION_HARDSHIP in the same months",
        "district": "310104",
        "benefits": [
            {"benefit_id": "CA:ca-2026-0001", "programme": "DIBAO", "source": "CA", "source_kind": "department"},
            {"benefit_id": "UNION:u-77", "programme": "UNION_HARDSHIP", "source": "UNION", "source_kind": "department"},
        ],
    },
    ("alert.decided", 1): {
        "alert_id": "al-1",
        "decision": "justified",
        "note": "joint meeting 2026-04 approved both",
        "decided_by": "staff-007",
        "decided_at": "2026-04-10T15:00:00+08:00",
    },
    ("alert.updated", 1): {
        "alert_id": "al-1",
        "rule_id": "R-CAP-CASH-MONTH",
        "severity": "medium",
        "description": "3 benefits conflict: 3,600.00 CNY in 2026-04 from 3 grants, over the cap of 3,000.00",
        "district": "310104",
        "benefits": [
            {"benefit_id": "CA:t-1", "programme": "TEMPORARY", "source": "CA", "source_kind": "department"},
            {"benefit_id": "CA:t-2", "programme": "TEMPORARY", "source": "CA", "source_kind": "department"},
            {"benefit_id": "M:m-9", "programme": "CHARITY_MONEY", "source": "ch-1", "source_kind": "charity"},
        ],
        "status": "open",
        "new_evidence_since_decision": True,
    },
    ("household.state", 1): {
        "district": "310104",
        "subdistrict": "田林街道",
        "category": "dibao",
        "colour": "orange",
        "programmes": ["DIBAO", "MEDICAL"],
        "open_needs": ["CA:need-1"],
        "person_count": 2,
        "as_of": "2026-04-10T15:00:00+08:00",
    },
    ("household.state", 2): {
        "district": "310104",
        "subdistrict": "田林街道",
        "category": "dibao",
        "colour": "orange",
        "programmes": ["DIBAO", "MEDICAL"],
        "open_needs": ["CA:need-1"],
        "person_count": 2,
        "as_of": "2026-04-10T15:00:00+08:00",
        "received_this_year": [{"category": "basic_living", "benefits": 1, "amount_fen": 107000}],
    },
    ("service.started", 1): {"service": "ledger", "instance": "ledger-1-abc123", "http_url": "http://ledger:8004"},
}


def registry_of(model: type[Event]) -> EventRegistry:
    for registry in (DEPARTMENT_EVENTS, HUB_EVENTS):
        if model in registry.models():
            return registry
    raise LookupError(model)


def build_example(model: type[Event], **envelope: Any) -> Event:
    """A valid event of this model with every envelope field set explicitly."""
    fields: dict[str, Any] = {
        "event_id": f"evt-{model.TYPE}-{model.VERSION}",
        "occurred_at": AT,
        "source": "CA" if registry_of(model) is DEPARTMENT_EVENTS else "ledger",
        "household_id": HOUSEHOLD,
        "correlation_id": "corr-1",
        "data": EXAMPLE_DATA[(model.TYPE, model.VERSION)],
        **envelope,
    }
    return model(**fields)


@pytest.fixture
def example_of() -> Callable[..., Event]:
    """`example_of(Model, **envelope_overrides)` -> a valid event of that model."""
    return build_example


@pytest.fixture
def example_data() -> dict[tuple[str, int], dict[str, Any]]:
    return EXAMPLE_DATA
