"""The staff pages' use cases against a stand-in ledger and intake: what each role sees and may do,
what is sent upstream (with the acting person), and what bad input gives."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncio

import pytest

from services.web import review
from services.web.accounts import Role, StaffMember
from services.web.figures import DashboardFigures, OpenAlertSummary, StatisticsCache
from services.web.review import AlertFilters, Forbidden, NotFound, PreGrantForm
from services.web.upstream import UpstreamDown
from tests.unit.web.fakes import FakeServices

ADMIN = StaffMember("ada", Role.ADMINISTRATOR)
REVIEWER = StaffMember("rita", Role.REVIEWER)
HEALTH = StaffMember("hugo", Role.DEPARTMENT_VIEWER, "HEALTH")
DPF = StaffMember("dora", Role.DEPARTMENT_VIEWER, "DPF")


async def test_dashboard_totals_by_month_and_open_alerts_by_age_and_rule() -> None:
    fake = FakeServices()
    board = await review.dashboard(REVIEWER, fake.figures(), "2026-10", "2026-11")
    assert board.by_month.rows == [{"month": "2026-11", "households": 5, "persons": 6, "amount_yuan": 4300.0}]
    assert board.alerts_by_rule.rows == [{"rule_id": "R-EXCL-EXTREME-DISABILITY", "severity": "high", "open": 1}]
    assert sum(r["open"] for r in board.alerts_by_age.rows) == 1
    # figures shared by everyone's dashboard are read without naming a person
    assert fake.requests and all("X-Acting-User" not in r.headers for r in fake.requests)


async def test_a_department_viewer_sees_only_its_programmes() -> None:
    fake = FakeServices()
    board = await review.dashboard(HEALTH, fake.figures(), "2026-11", "2026-11")
    assert [r["programme"] for r in board.benefits.rows] == ["MEDICAL"]
    assert board.alerts_by_rule.rows == []  # the alert is between CA's and DPF's programmes
    queue, _ = await review.alert_queue(HEALTH, fake.upstreams(), AlertFilters())
    assert queue.table.rows == []
    with pytest.raises(Forbidden):
        await review.alert(HEALTH, fake.upstreams(), "al-1")
    with pytest.raises(Forbidden):
        await review.household(HEALTH, fake.upstreams(), "hh-1")
    assert (await review.household(DPF, fake.upstreams(), "hh-1")).household["household_id"] == "hh-1"


async def test_alert_filters_name_the_bad_field_and_ask_nothing_upstream() -> None:
    fake = FakeServices()
    _, errors = await review.alert_queue(REVIEWER, fake.upstreams(), AlertFilters(programme="NOPE", min_age_days="-3"))
    assert {e.field for e in errors} == {"programme", "min_age_days"}
    assert fake.requests == []
    _, errors = await review.alert_queue(HEALTH, fake.upstreams(), AlertFilters(programme="DIBAO"))
    assert [e.field for e in errors] == ["programme"]


async def test_the_rule_filter_keeps_only_that_rule() -> None:
    fake = FakeServices()
    fake.alerts.append(dict(fake.alerts[0], alert_id="al-2", rule_id="R-ONCE-TEMPORARY-90D"))
    queue, _ = await review.alert_queue(REVIEWER, fake.upstreams(), AlertFilters(rule="R-ONCE-TEMPORARY-90D"))
    assert [a["alert_id"] for a in queue.table.rows] == ["al-2"]


async def test_the_queue_comes_a_page_at_a_time() -> None:
    fake = FakeServices()
    fake.alerts[1:] = [dict(fake.alerts[0], alert_id=f"al-{n}", raised_at=f"2026-11-{n:02d}T00:00:00+00:00") for n in range(2, 6)]
    first, _ = await review.alert_queue(REVIEWER, fake.upstreams(), AlertFilters(), page=0, page_size=2)
    last, _ = await review.alert_queue(REVIEWER, fake.upstreams(), AlertFilters(), page=2, page_size=2)
    assert len(first.table.rows) == 2 and first.more and len(last.table.rows) == 1 and not last.more
    assert [r.url.params["offset"] for r in fake.requests] == ["0", "4"]  # the ledger pages it


async def test_deciding_checks_role_and_input_then_posts_once() -> None:
    fake = FakeServices()
    with pytest.raises(Forbidden):
        await review.decide_alert(DPF, fake.upstreams(), "al-1", "justified", "a reason")
    _, errors = await review.decide_alert(REVIEWER, fake.upstreams(), "al-1", "maybe", "x")
    assert {e.field for e in errors} == {"decision", "note"} and fake.requests == []
    decided, errors = await review.decide_alert(REVIEWER, fake.upstreams(), "al-1", "justified", "  two separate needs ")
    assert errors == [] and decided["status"] == "justified" and decided["decision_note"] == "two separate needs"
    _, again = await review.decide_alert(REVIEWER, fake.upstreams(), "al-1", "justified", "once more")
    assert [e.message for e in again] == ["This alert was already decided"]


async def test_an_alert_shows_each_benefit_with_its_period_and_amount() -> None:
    shown = await review.alert(REVIEWER, FakeServices().upstreams(), "al-1")
    assert [(b["benefit_id"], b["period_start"], b["period_end"], b["amount_fen"]) for b in shown["benefits"]] == [
        ("CA:es-1", "2026-03-01", None, 140000), ("DPF:sd-1", "2026-06-01", "2026-08-31", 140000)]


async def test_household_timeline_places_every_benefit_on_one_axis() -> None:
    page = await review.household(REVIEWER, FakeServices().upstreams(), "hh-1")
    periods = review.benefit_periods(page.benefits.rows, date(2026, 12, 1))
    assert [p["benefit_id"] for p in periods] == ["CA:es-1", "DPF:sd-1"]
    assert periods[0]["left"] == 0 and round(periods[0]["width"]) == 100
    assert 0 < periods[1]["left"] < 100
    assert page.members[0]["display_name"] == "王*"


async def test_pre_grant_form_checks_fields_before_asking() -> None:
    fake = FakeServices()
    _, errors = await review.pre_grant_check(REVIEWER, fake.upstreams(), "hh-1",
                                             PreGrantForm("TEMPORARY", "2026-13-01", "", "12.345"))
    assert {e.field for e in errors} == {"period_start", "amount_yuan"} and fake.requests == []
    answer, errors = await review.pre_grant_check(REVIEWER, fake.upstreams(), "hh-1", PreGrantForm("TEMPORARY", "2026-12-01", "", "500.5"))
    assert errors == [] and answer["allowed"] is True
    assert fake.requests[-1].read() == b'{"household_id":"hh-1","programme":"TEMPORARY","period_start":"2026-12-01","period_end":null,"amount_fen":50050}'


async def test_identity_review_decisions() -> None:
    fake = FakeServices()
    with pytest.raises(Forbidden):
        await review.identity_reviews(HEALTH, fake.upstreams())
    _, errors = await review.resolve_review(REVIEWER, fake.upstreams(), "rv-1", "same_person", "")
    assert [e.field for e in errors] == ["person_key"]
    resolved, errors = await review.resolve_review(REVIEWER, fake.upstreams(), "rv-1", "same_person", "p_a")
    assert errors == [] and resolved["person_key"] == "p_a"
    with pytest.raises(NotFound):
        await review.resolve_review(REVIEWER, fake.upstreams(), "rv-9", "new_person", "")


async def test_a_service_that_does_not_answer_is_named() -> None:
    with pytest.raises(UpstreamDown) as down:
        fake = FakeServices(down={"ledger"})
        await review.dashboard(ADMIN, fake.figures(), "2026-11", "2026-11")
    assert down.value.service == "ledger"


async def test_monthly_figures_are_fetched_once_per_month_until_stale() -> None:
    fake, now = FakeServices(), [0.0]
    ledger = fake.upstreams().ledger
    figures = DashboardFigures(StatisticsCache(ledger, ttl=300, clock=lambda: now[0]), OpenAlertSummary(ledger, ttl=600, clock=lambda: now[0]))
    await asyncio.gather(*(review.dashboard(REVIEWER, figures, "2026-10", "2026-11") for _ in range(3)))
    asked = [r.url.params["from"] for r in fake.requests if r.url.path == "/stats/benefits"]
    assert sorted(asked) == ["2026-10", "2026-11"]  # three dashboards at once: one fetch a month
    now[0] = 301.0
    await review.dashboard(REVIEWER, figures, "2026-11", "2026-11")
    assert [r.url.params["from"] for r in fake.requests if r.url.path == "/stats/benefits"][2:] == ["2026-11"]
    assert len([r for r in fake.requests if r.url.path == "/review/alerts"]) == 1  # the alert summary is still fresh


def test_alert_age_buckets() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    alerts = [{"raised_at": f"2026-{m}T00:00:00+00:00"} for m in ("12-01", "11-20", "10-01", "01-01", "08-01")]
    assert [r["open"] for r in review.alerts_by_age(alerts, now).rows] == [1, 1, 1, 2]


def test_upstream_addresses_follow_the_ports_hub_up_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    from kit.settings import HubSettings
    from services.web.settings import WebSettings

    monkeypatch.delenv("HUB_INTAKE_HTTP_PORT", raising=False)
    monkeypatch.setenv("HUB_LEDGER_HTTP_PORT", "9104")
    settings = WebSettings(hub=HubSettings(http_host="127.0.0.1"))
    assert settings.upstream("ledger") == "http://127.0.0.1:9104"
    assert settings.upstream("intake") == "http://127.0.0.1:8001"
    assert WebSettings(ledger_url="http://ledger:8004/").upstream("ledger") == "http://ledger:8004"
