"""A stand-in ledger and intake behind httpx.MockTransport: what they answer, and what they were asked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.web.figures import DashboardFigures, OpenAlertSummary, StatisticsCache
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
    "needs": [], "alerts": [ALERT],
    "timeline": [{"event_id": "ev-1", "type": "benefit.recorded", "source": "CA", "occurred_at": "2026-03-01T00:00:00", "benefit_id": "CA:es-1"}],
}
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

    def upstreams(self) -> Upstreams:
        return Upstreams(
            ledger=Upstream.connect("ledger", "http://ledger", "web-key", 5, httpx.MockTransport(self._ledger)),
            intake=Upstream.connect("intake", "http://intake", "web-key", 5, httpx.MockTransport(self._intake)),
        )

    def figures(self) -> DashboardFigures:
        ledger = self.upstreams().ledger
        return DashboardFigures(StatisticsCache(ledger, ttl=300), OpenAlertSummary(ledger, ttl=60))

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
            return httpx.Response(200, json={"record_id": "rv-1", "person_key": "p_a", "released": []})
        return httpx.Response(404, json={"detail": "no such review"})
