"""The social forces' pages and the household's matches and colours, against a stand-in charity
service and matching: what each role sees, what is sent upstream (with the acting person), what
bad input gives, and what a service that does not answer gives."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from services.web import review, social
from services.web.accounts import Role, StaffMember
from services.web.review import Forbidden, NotFound
from services.web.social import OfferingFilters, OrganisationDecision
from tests.unit.web.conftest import Site
from tests.unit.web.fakes import FakeServices

ADMIN = StaffMember("ada", Role.ADMINISTRATOR)
REVIEWER = StaffMember("rita", Role.REVIEWER)
DPF = StaffMember("dora", Role.DEPARTMENT_VIEWER, "DPF")


def test_masks() -> None:
    assert social.mask_phone("13812345678") == "138****5678"
    assert social.mask_phone("021-5555") == "021*5555"
    assert social.mask_phone("12345") == "*****"
    assert social.mask_name("李老师") == "李**" and social.mask_name("王") == "王*" and social.mask_name(None) == ""


async def test_pending_organisations_are_listed_with_contact_masked() -> None:
    fake = FakeServices()
    table = await social.pending_organisations(REVIEWER, fake.upstreams())
    (row,) = table.rows
    assert (row["contact_phone"], row["contact_name"]) == ("138****5678", "李**")
    assert "13812345678" not in str(table.rows)
    (asked,) = fake.requests
    assert asked.url.params["status"] == "pending" and asked.headers["X-Acting-User"] == "rita"
    with pytest.raises(Forbidden):
        await social.pending_organisations(DPF, fake.upstreams())


async def test_a_refusal_needs_a_reason_and_a_decision_names_the_person() -> None:
    fake = FakeServices()
    _, errors = await social.decide_organisation(REVIEWER, fake.upstreams(), "org-1", OrganisationDecision("refuse", " ab "))
    assert [e.field for e in errors] == ["reason"] and fake.requests == []
    _, errors = await social.decide_organisation(REVIEWER, fake.upstreams(), "org-1", OrganisationDecision("maybe", ""))
    assert [e.field for e in errors] == ["decision"] and fake.requests == []
    with pytest.raises(Forbidden):
        await social.decide_organisation(DPF, fake.upstreams(), "org-1", OrganisationDecision("approve", ""))
    decided, errors = await social.decide_organisation(REVIEWER, fake.upstreams(), "org-1", OrganisationDecision("refuse", " not a charity "))
    assert errors == [] and decided is not None
    assert (decided["status"], decided["status_reason"], decided["decided_by"]) == ("refused", "not a charity", "rita (web-front)")
    (posted,) = fake.requests
    assert posted.url.path == "/organisations/org-1/refuse" and posted.headers["X-Acting-User"] == "rita"
    _, errors = await social.decide_organisation(ADMIN, fake.upstreams(), "org-1", OrganisationDecision("approve", ""))
    assert [e.field for e in errors] == ["decision"]  # the charity service's 409: already decided
    with pytest.raises(NotFound):
        await social.decide_organisation(ADMIN, fake.upstreams(), "org-nobody", OrganisationDecision("approve", ""))


async def test_offering_filters_name_the_bad_field_and_ask_nothing() -> None:
    fake = FakeServices()
    _, _, errors = await social.offerings(REVIEWER, fake.upstreams(), OfferingFilters(category="cake", district="31", status="gone"))
    assert {e.field for e in errors} == {"category", "district", "status"} and fake.requests == []
    table, more, errors = await social.offerings(REVIEWER, fake.upstreams(), OfferingFilters("food", "310104", "stale"), page=2, page_size=10)
    assert errors == [] and not more
    (row,) = table.rows
    assert (row["value_yuan_per_unit"], row["districts"]) == (150.0, ["310104"])
    assert dict(fake.requests[0].url.params) == {"category": "food", "district": "310104", "status": "stale", "limit": "11", "offset": "20"}
    with pytest.raises(Forbidden):
        await social.offerings(DPF, fake.upstreams(), OfferingFilters())


async def test_match_outcomes_by_organisation_and_category_with_declines_by_reason() -> None:
    fake = FakeServices()
    table = await social.match_outcomes(REVIEWER, fake.upstreams(), "2026-10", "2026-12")
    (row,) = table.rows
    assert (row["proposed"], row["fulfilled"], row["declined"], row["declined_no_capacity"], row["declined_other"]) == (6, 3, 1, 1, 0)
    assert dict(fake.requests[0].url.params) == {"from": "2026-10", "to": "2026-12"}


async def test_unmet_needs_by_category_and_district_with_fairness() -> None:
    fake = FakeServices()
    report, errors = await social.unmet_needs(REVIEWER, fake.upstreams(), "food", "310104")
    assert errors == [] and report is not None
    assert report.total == 4 and report.by_category == [("food", 3), ("medical", 1)]
    assert report.cells.rows[0]["reason_no_capacity"] == 2 and report.cells.rows[0]["waiting_max"] == 9
    assert report.fairness is not None and report.fairness.rows[0]["share_of_open_needs"] == 75.0
    unmet = next(r for r in fake.requests if r.url.path == "/reports/unmet-needs")
    assert dict(unmet.url.params) == {"category": "food", "district": "310104"}
    fake.fairness_answers = False  # the report still shows, saying fairness is missing
    report, _ = await social.unmet_needs(REVIEWER, fake.upstreams())
    assert report is not None and report.fairness is None and report.total == 4
    _, errors = await social.unmet_needs(REVIEWER, fake.upstreams(), "cake", "no such!")
    assert {e.field for e in errors} == {"category", "district"}
    with pytest.raises(Forbidden):
        await social.unmet_needs(DPF, fake.upstreams())


async def test_the_dashboard_section_sums_value_offered_matched_delivered_and_keeps_the_reports() -> None:
    fake = FakeServices()
    figures = fake.figures()
    section = await social.social_section(REVIEWER, figures, "2026-11", "2026-12")
    assert section is not None and section.totals is not None
    assert (section.totals["value_offered_yuan"], section.totals["value_matched_yuan"], section.totals["value_delivered_yuan"]) == (30000.0, 600.0, 450.0)
    (cell,) = section.by_category.rows  # the two months' rows of one category, summed
    (district,) = section.by_district.rows
    assert district["district"] == "310104" and {k: v for k, v in district.items() if k != "district"} == {
        k: v for k, v in cell.items() if k != "category"}
    assert (cell["capacity_offered"], cell["matched"], cell["delivered"], cell["value_delivered"]) == (200, 4, 3, 450.0)
    assert section.unmet_total == 4 and section.unmet_by_district.rows[0] == {"district": "310104", "open_needs": 3}
    asked = len(fake.requests)
    await social.social_section(ADMIN, figures, "2026-11", "2026-12")
    assert len(fake.requests) == asked  # kept: read once per ttl, whoever asks
    assert all("X-Acting-User" not in r.headers for r in fake.requests)  # shared figures name no person
    assert await social.social_section(DPF, figures, "2026-11", "2026-12") is None


async def test_the_dashboard_section_without_the_charity_service_or_matching() -> None:
    fake = FakeServices(down={"charity", "matching"})
    figures = fake.figures()
    section = await social.social_section(REVIEWER, figures, "2026-11", "2026-12")
    assert section is not None and section.totals is None and section.unmet_total is None
    asked = len(fake.requests)
    await social.social_section(REVIEWER, figures, "2026-11", "2026-12")
    assert len(fake.requests) == asked  # not asked again at once: the dashboard stays fast


async def test_a_household_shows_its_matches_and_colour_changes() -> None:
    fake = FakeServices()
    page = await review.household(DPF, fake.upstreams(), "hh-1")
    assert page.matches is not None and page.colours is not None and page.matching_answered
    assert [(r["match_id"], r["state"], r["reason_code"]) for r in page.matches.rows] == [("m-1", "declined", "no_capacity"), ("m-2", "accepted", None)]
    assert [(r["colour"], r["previous"], r["occurred_at"][:10]) for r in page.colours.rows] == [
        ("yellow", None, "2026-02-01"), ("orange", "yellow", "2026-06-01")]  # the second yellow report is no change
    down = await review.household(REVIEWER, FakeServices(down={"matching"}).upstreams(), "hh-1")
    assert not down.matching_answered and down.matches is not None and down.matches.rows == []


async def test_an_identity_decision_names_the_person_to_intake() -> None:
    fake = FakeServices()
    await review.resolve_review(REVIEWER, fake.upstreams(), "rv-1", "new_person", "")
    (posted,) = fake.requests
    assert posted.url.path == "/identity-reviews/rv-1/resolve" and posted.headers["X-Acting-User"] == "rita"


# --- the pages ---------------------------------------------------------------------------------


def test_pages_render_in_chinese_and_export_csv_and_xlsx(site: Site) -> None:
    site.as_role("reviewer")
    for path, heading, table in (("/offerings", "服务项目与匹配结果", "offerings"), ("/offerings", "服务项目与匹配结果", "match_outcomes"),
                                 ("/unmet-needs", "未满足需求", "unmet_needs"), ("/unmet-needs", "未满足需求", "fairness"),
                                 ("/organisations", "待审核社会组织", "organisations"), ("/dashboard", "总览", "social_forces_by_district"),
                                 ("/dashboard", "总览", "unmet_by_category"), ("/households/hh-1", "家庭", "colour_history"),
                                 ("/households/hh-1", "家庭", "matches")):
        page = site.client.get(path)
        assert page.status_code == 200 and heading in page.text, path
        shown = site.client.get(path, params={"export": "csv", "table": table})
        rows = list(csv.reader(io.StringIO(shown.content.decode("utf-8-sig"))))
        assert shown.status_code == 200 and len(rows) >= 2, (path, table)
        book = site.client.get(path, params={"export": "xlsx", "table": table})
        sheet = openpyxl.load_workbook(io.BytesIO(book.content)).active
        assert [list(r) for r in sheet.iter_rows(values_only=True)][0] == rows[0], (path, table)
    assert "13812345678" not in site.client.get("/organisations").text


def test_a_refusal_without_a_reason_shows_the_field_and_keeps_the_input(site: Site) -> None:
    site.as_role("reviewer")
    refused = site.client.post("/organisations/org-1/decision", data={"decision": "refuse", "reason": "ab", "csrftoken": site.csrf()})
    assert refused.status_code == 400 and 'id="reason-error"' in refused.text and ">ab</textarea>" in refused.text
    assert not any(r.method == "POST" for r in site.fake.requests)
    approved = site.client.post("/organisations/org-1/decision", data={"decision": "approve", "reason": "", "csrftoken": site.csrf()},
                                follow_redirects=False)
    assert approved.status_code == 303
    after = site.client.get(approved.headers["location"])
    assert "rita (web-front)" in after.text and "暂无待审核组织" in after.text  # it left the queue


def test_bad_filters_are_shown_on_the_page(site: Site) -> None:
    site.as_role("administrator")
    offerings = site.client.get("/offerings", params={"district": "abc", "from": "2026-13"})
    assert offerings.status_code == 400 and 'id="district-error"' in offerings.text and 'id="from-error"' in offerings.text
    assert 'value="abc"' in offerings.text
    unmet = site.client.get("/unmet-needs", params={"category": "cake"})
    assert unmet.status_code == 400 and 'id="category-error"' in unmet.text


def test_json_routes_for_the_same_use_cases(site: Site) -> None:
    site.as_role("reviewer")
    assert site.client.get("/api/organisations").json()["organisations"][0]["contact_phone"] == "138****5678"
    assert site.client.get("/api/offerings", params={"status": "nope"}).status_code == 422
    assert site.client.get("/api/unmet-needs").json()["total"] == 4
    assert site.client.get("/api/match-outcomes", params={"from_month": "2026-11", "to_month": "2026-12"}).json()["outcomes"]
    decided = site.client.post("/api/organisations/org-1/decision", json={"decision": "approve"}, headers={"X-CSRFToken": site.csrf()})
    assert decided.json()["decided_by"] == "rita (web-front)"
    site.as_role("department_viewer")
    assert site.client.get("/api/organisations").status_code == 403
    board = site.client.get("/api/dashboard", params={"from_month": "2026-11", "to_month": "2026-11"}).json()
    assert board["social_forces"] is None


def test_the_identity_review_page_shows_who_intake_recorded(site: Site) -> None:
    site.as_role("reviewer")
    resolved = site.client.post("/identity-reviews/rv-1/resolve", data={"choice": "new", "csrftoken": site.csrf()})
    assert resolved.status_code == 200 and '<span id="resolved-by">rita (web-front)</span>' in resolved.text
