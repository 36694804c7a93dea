"""A stand-in ledger, intake, charity service and matching behind httpx.MockTransport: what they answer, and what they were asked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.web.figures import DashboardFigures, KeptReport, OpenAlertSummary, StatisticsCache
from services.web.upstream import Upstream, Upstreams

ALERT = {
    "alert_id": "al-1", "household_id": "hh-1", "rule_id": "R-EXCL-EXTREME-DISABILITY", "severity": "high",
    "district": "310104", "programmes": ["EXTREME_POVERTY", "SEVERE_DISABILITY"], "description": "one of them",
    "benefits": [
        {"benefit_id": "CA:es-1", "programme": "EXTREME_POVERTY", "source": "CA", "source_kind": "department",
         "period_start": "2026-03-01", "period_end": None, "amount_fen": 140000},
        {"benefit_id": "DPF:sd-1", "programme": "SEVERE_DISABILITY", "source": "DPF", "source_kind": "department",
         "period_start": "2026-03-01", "period_end": None, "amount_fen": 140000},
    ],
    "status": "open", "active": True, "raised_at": "2026-11-30T10:00:00+00:00", "raised_by_event": "ev-1",
    "resolved_at": None, "decision_note": None, "decided_by": None, "decided_at": None,
}
HOUSEHOLD = {
    "household": {"household_id": "hh-1", "district": "310104", "subdistrict": None, "category": "extreme_poverty",
                  "colour": "orange", "income_fen": 60000, "person_count": 1},
    "members": [{"person_key": "p1", "display_name": "王*", "masked_resident_id": "110105********002X",
                 "birth_year": 1949, "sex": "F", "relation": "head"}],
    "benefits": [
        {"benefit_id": "CA:es-1", "programme": "EXTREME_POVERTY", "source": "CA", "source_kind": "department", "person_key": "p1",
         "amount_fen": 140000, "in_kind": None, "period_start": "2026-03-01", "period_end": None, "status": "active"},
        {"benefit_id": "DPF:sd-1", "programme": "SEVERE_DISABILITY", "source": "DPF", "source_kind": "department", "person_key": "p1",
         "amount_fen": 140000, "in_kind": None, "period_start": "2026-06-01", "period_end": "2026-08-31", "status": "active"},
    ],
    "needs": [{"need_id": "CA:n-1", "category": "food", "department": "CA", "description": "", "urgency": 3, "assessed_on": "2026-11-28",
               "person_key": None, "status": "open", "event_id": "ev-n"}],
    "alerts": [ALERT],
    "timeline": [
        {"event_id": "ev-h1", "type": "household.recorded", "source": "intake", "occurred_at": "2026-02-01T00:00:00", "benefit_id": None,
         "record": {"kind": "household", "department": "CA", "district": "310104", "category": "extreme_poverty", "colour": "yellow", "members": 1}},
        {"event_id": "ev-1", "type": "benefit.recorded", "source": "CA", "occurred_at": "2026-03-01T00:00:00", "benefit_id": "CA:es-1",
         "record": {"kind": "grant"}},
        {"event_id": "ev-h2", "type": "household.recorded", "source": "intake", "occurred_at": "2026-04-01T00:00:00", "benefit_id": None,
         "record": {"kind": "household", "department": "DPF", "district": "310104", "category": "extreme_poverty", "colour": "yellow", "members": 1}},
        {"event_id": "ev-h3", "type": "household.recorded", "source": "intake", "occurred_at": "2026-06-01T00:00:00", "benefit_id": None,
         "record": {"kind": "household", "department": "CA", "district": "310104", "category": "extreme_poverty", "colour": "orange", "members": 1}},
    ],
}
ORGANISATION = {
    "organisation_id": "org-1", "name": "徐汇区暖心公益服务中心", "kind": "charity", "credit_code": "91110000600037341L",
    "districts": ["310104"], "contact_name": "李老师", "contact_phone": "13812345678", "status": "pending", "status_reason": None,
    "decided_by": None, "decided_at": None, "registered_at": "2026-12-01T08:00:00Z",
}
OFFERING = {
    "offering_id": "off-1", "organisation_id": "org-1", "title": "Winter food parcel", "description": "Rice and oil", "category": "food",
    "programme": "CHARITY_FOOD", "kind": "goods", "unit": "parcel", "quantity_total": 200, "quantity_remaining": 180,
    "quantity_promised": None, "value_fen_per_unit": 15000, "eligibility": {}, "service_area": {"districts": ["310104"], "subdistricts": []},
    "valid_from": "2026-12-01", "valid_until": "2027-02-28", "status": "open", "closed_reason": None,
    "capacity_confirmed_at": "2026-12-02T09:40:00Z", "confirm_every_days": 14, "created_at": "2026-12-02T09:40:00Z",
    "updated_at": "2026-12-02T09:40:00Z",
}
SOCIAL_FORCES = {
    "totals": {"organisations": {"approved": 1, "pending": 1}, "offerings": 1, "capacity_offered": 200, "value_offered_fen": 3000000,
               "matched": 4, "value_matched_fen": 60000, "delivered": 3, "value_delivered_fen": 45000, "declines_by_reason": {"no_capacity": 1}},
    "rows": [
        {"district": "310104", "category": "food", "month": "2026-11", "organisations": 1, "offerings": 1, "capacity_offered": 200,
         "value_offered_fen": 3000000, "matched": 1, "value_matched_fen": 15000, "delivered": 0, "value_delivered_fen": 0},
        {"district": "310104", "category": "food", "month": "2026-12", "organisations": 1, "offerings": 0, "capacity_offered": 0,
         "value_offered_fen": 0, "matched": 3, "value_matched_fen": 45000, "delivered": 3, "value_delivered_fen": 45000},
    ],
    "organisations": [],
    "outcomes": [{"organisation_id": "org-1", "name": "暖心", "category": "food", "proposed": 6, "open": 1, "accepted": 1, "declined": 1,
                  "fulfilled": 3, "failed": 0, "cancelled": 0, "expired": 0, "declines_by_reason": {"no_capacity": 1}}],
}
UNMET = {"as_of": "2026-12-02", "reasons": ["already_served", "no_offering_in_area", "no_capacity", "not_eligible", "declined_by_all", "waiting_for_round"],
         "cells": [
             {"category": "food", "district": "310104", "open_needs": 3, "reasons": {"no_capacity": 2, "not_eligible": 1},
              "waiting_days": {"mean": 4.3, "median": 4, "max": 9}},
             {"category": "medical", "district": "310115", "open_needs": 1, "reasons": {"no_offering_in_area": 1},
              "waiting_days": {"mean": 30.0, "median": 30, "max": 30}},
         ], "total": 4}
FAIRNESS = {"since": "2026-11-02T00:00:00+00:00", "days": 30, "open_needs": 4, "units_proposed": 2, "districts": [
    {"district": "310104", "open_needs": 3, "share_of_open_needs": 0.75, "units_proposed": 2, "share_of_units_proposed": 1.0, "ratio": 1.333},
    {"district": "310115", "open_needs": 1, "share_of_open_needs": 0.25, "units_proposed": 0, "share_of_units_proposed": 0.0, "ratio": 0.0},
]}
NEED_EXPLANATION = {"need_id": "CA:n-1", "household_id": "hh-1", "category": "food", "urgency": 3, "status": "open", "waiting_days": 4,
                    "district": "310104", "subdistrict": None, "reason": "proposed", "match_id": "m-2", "history": [
                        {"match_id": "m-1", "offering_id": "off-1", "state": "declined", "reason_code": "no_capacity"},
                        {"match_id": "m-2", "offering_id": "off-2", "state": "accepted", "reason_code": None}]}
REVIEW = {"record_id": "rv-1", "department": "CA", "department_household_ref": "h-unclear", "event_key": "k", "member_index": 0,
          "candidates": [{"person_key": "p_a", "score": 0.9, "display_name": "李*", "birth_year": 1990, "household_id": "hh-a"}],
          "created_at": "2026-12-01T00:00:00"}


@dataclass
class FakeServices:
    """Answers like the ledger and intake; `down` makes a service refuse connections."""

    down: set[str] = field(default_factory=set)
    requests: list[httpx.Request] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=lambda: [dict(ALERT)])
    stats_rows: list[dict[str, Any]] = field(default_factory=lambda: [
        {"month": "2026-11", "district": "310104", "programme": "EXTREME_POVERTY", "households": 3, "persons": 4, "amount_fen": 420000},
        {"month": "2026-11", "district": "310104", "programme": "MEDICAL", "households": 2, "persons": 2, "amount_fen": 10000},
    ])

    organisations: list[dict[str, Any]] = field(default_factory=lambda: [dict(ORGANISATION)])
    fairness_answers: bool = True

    def upstreams(self) -> Upstreams:
        return Upstreams(
            ledger=Upstream.connect("ledger", "http://ledger", "web-key", 5, httpx.MockTransport(self._ledger)),
            intake=Upstream.connect("intake", "http://intake", "web-key", 5, httpx.MockTransport(self._intake)),
            charity=Upstream.connect("charity", "http://charity", "web-key", 5, httpx.MockTransport(self._charity)),
            matching=Upstream.connect("matching", "http://matching", "web-key", 5, httpx.MockTransport(self._matching)),
        )

    def figures(self) -> DashboardFigures:
        upstreams = self.upstreams()
        return DashboardFigures(StatisticsCache(upstreams.ledger, ttl=300), OpenAlertSummary(upstreams.ledger, ttl=60),
                                KeptReport(upstreams.charity, "/stats/social-forces", ttl=60),
                                KeptReport(upstreams.matching, "/reports/unmet-needs", ttl=60))

    def _charity(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if "charity" in self.down:
            raise httpx.ConnectError("refused")
        path = request.url.path
        if path == "/organisations":
            status = request.url.params.get("status")
            return httpx.Response(200, json=[o for o in self.organisations if not status or o["status"] == status])
        if path.startswith("/organisations/") and path.rsplit("/", 1)[-1] in ("approve", "refuse"):
            organisation_id, action = path.split("/")[2], path.rsplit("/", 1)[-1]
            found = next((o for o in self.organisations if o["organisation_id"] == organisation_id), None)
            if found is None:
                return httpx.Response(404, json={"detail": "no such organisation"})
            if found["status"] != "pending":
                return httpx.Response(409, json={"detail": "already decided"})
            acting = request.headers.get("X-Acting-User")
            found |= {"status": "approved" if action == "approve" else "refused", "status_reason": json.loads(request.content)["reason"] or None,
                      "decided_by": f"{acting} (web-front)" if acting else "web-front"}
            return httpx.Response(200, json=found)
        if path == "/offerings":
            return httpx.Response(200, json=[OFFERING])
        if path == "/stats/social-forces":
            return httpx.Response(200, json=SOCIAL_FORCES)
        return httpx.Response(404, json={"detail": "not found"})

    def _matching(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if "matching" in self.down:
            raise httpx.ConnectError("refused")
        path = request.url.path
        if path == "/reports/unmet-needs":
            return httpx.Response(200, json=UNMET)
        if path == "/reports/fairness":
            return httpx.Response(200, json=FAIRNESS) if self.fairness_answers else httpx.Response(503, json={"detail": "busy"})
        if path == "/needs/CA:n-1/explanation":
            return httpx.Response(200, json=NEED_EXPLANATION)
        return httpx.Response(404, json={"detail": "not found"})

    def _ledger(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if "ledger" in self.down:
            raise httpx.ConnectError("refused")
        path = request.url.path
        if path == "/stats/benefits":
            month = request.url.params["from"]
            return httpx.Response(200, json={"rows": [r for r in self.stats_rows if r["month"] == month]})
        if path == "/review/alerts":
            programme = request.url.params.get("programme")
            alerts = [a for a in self.alerts if (not programme or programme in a["programmes"])
                      and a["status"] == request.url.params.get("status", a["status"])]
            offset, limit = int(request.url.params.get("offset", 0)), int(request.url.params.get("limit", 100))
            if limit > 1000:  # as the ledger: Query(ge=1, le=1000)
                return httpx.Response(422, json={"detail": [{"loc": ["query", "limit"], "msg": "at most 1000"}]})
            alerts = alerts[offset:offset + limit]
            return httpx.Response(200, json={"alerts": alerts, "count": len(alerts), "limit": limit, "offset": offset})
        if path == "/review/alerts/al-1":  # as the ledger lists them: no periods or amounts
            return httpx.Response(200, json=self.alerts[0] | {"benefits": [
                {k: b[k] for k in ("benefit_id", "programme", "source", "source_kind")} for b in self.alerts[0]["benefits"]]})
        if path == "/review/alerts/al-1/decision":
            if self.alerts[0]["status"] != "open":
                return httpx.Response(409, json={"detail": "already decided"})
            body = json.loads(request.content)
            self.alerts[0] |= {"status": body["decision"], "decision_note": body["note"], "decided_by": "web-front"}
            return httpx.Response(200, json=self.alerts[0])
        if path == "/review/households/hh-1":
            return httpx.Response(200, json=HOUSEHOLD)
        if path == "/pre-grant-check":
            return httpx.Response(200, json={"allowed": True, "household_id": "hh-1", "known_household": True,
                                             "programme": "TEMPORARY", "policy_version": "1", "conflicts": []})
        if path == "/stats/cliff":
            return httpx.Response(200, json={"month": "2026-11", "standard_fen": 107000, "band_fen": 53500, "step_fen": 10700, "bands": [
                {"income_from_fen": 96300, "income_to_fen": 107000, "side": "below", "households": 5, "persons": 7,
                 "mean_income_per_capita_fen": 100000, "mean_benefits_per_household_fen": 150000, "mean_benefits_per_person_fen": 100000,
                 "mean_income_plus_benefits_per_capita_fen": 200000}], "by_side_and_category": []})
        if path == "/review/audit":
            return httpx.Response(200, json={"entries": [{"at": "2026-12-01T00:00:00", "actor": "web-front", "role": "staff",
                                                          "action": "decide_alert", "target_type": "alert", "target_id": "al-1",
                                                          "detail": {"decision": "justified", "acting_user": "rita"}}]})
        return httpx.Response(404, json={"detail": "not found"})

    def _intake(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if "intake" in self.down:
            raise httpx.ConnectError("refused")
        if request.url.path == "/identity-reviews":
            return httpx.Response(200, json=[REVIEW])
        if request.url.path == "/identity-reviews/rv-1/resolve":
            acting = request.headers.get("X-Acting-User")
            return httpx.Response(200, json={"record_id": "rv-1", "person_key": "p_a", "released": [],
                                             "resolved_by": f"{acting} (web-front)" if acting else "web-front"})
        return httpx.Response(404, json={"detail": "no such review"})
