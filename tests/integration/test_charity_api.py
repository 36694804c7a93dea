"""The charity API on SQLite and PostgreSQL: every endpoint and every rejection, with the events
each change queues in the outbox (row and event in one transaction; a rejected request writes
neither)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlmodel import Session, func, select

from contracts.envelope import utc_now
from contracts.hub import (
    MatchAccepted,
    MatchDeclinedV2,
    MatchFailed,
    MatchFulfilled,
    MatchStarted,
    OfferingChangedV2,
    OfferingClosed,
    OfferingPublishedV2,
    OfferingWithdrawn,
    MatchCancelled,
    MatchExpired,
)
from services.charity.repository import Offering
from services.charity.usecases import sweep
from tests.integration.charity_support import (
    STAFF,
    CharityUnderTest,
    charity_under_test,
    offering,
    outbox,
    registration,
)


@pytest.fixture
def api(database_url: str) -> Iterator[CharityUnderTest]:
    with charity_under_test(database_url) as under_test:
        yield under_test


def fields(answer) -> list[str]:  # type: ignore[no-untyped-def]
    assert answer.status_code == 422, answer.text
    return [".".join(str(p) for p in problem["loc"][1:]) for problem in answer.json()["detail"]]


# --- organisations ---------------------------------------------------------------------------------


def test_registration_is_pending_with_a_first_key_shown_once(api: CharityUnderTest) -> None:
    answer = api.client.post("/organisations", json=registration(1))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["organisation"]["status"] == "pending"
    key = {"X-API-Key": body["key"]["api_key"]}
    own = api.client.get(f"/organisations/{body['organisation']['organisation_id']}", headers=key)
    assert own.status_code == 200 and own.json()["contact_phone"] == "13812345678"
    keys = api.client.get(f"/organisations/{body['organisation']['organisation_id']}/keys", headers=key).json()
    assert [k["key_id"] for k in keys] == [body["key"]["key_id"]]
    assert all("api_key" not in k for k in keys)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"credit_code": "91110000600037341X"}, "credit_code"),
        ({"credit_code": "123"}, "credit_code"),
        ({"kind": "church"}, "kind"),
        ({"districts": ["310199"]}, "districts"),
        ({"contact_phone": "12345678"}, "contact_phone"),
        ({"name": ""}, "name"),
    ],
)
def test_registration_rejections_name_the_field(api: CharityUnderTest, changes: dict[str, object], field: str) -> None:
    assert fields(api.client.post("/organisations", json=registration(1, **changes))) == [field]
    assert api.client.get("/organisations", headers=STAFF).json() == []


def test_a_credit_code_registers_once(api: CharityUnderTest) -> None:
    assert api.client.post("/organisations", json=registration(7)).status_code == 201
    assert fields(api.client.post("/organisations", json=registration(7, name="Other name"))) == ["credit_code"]


def test_staff_approve_or_refuse_once(api: CharityUnderTest) -> None:
    first, _ = api.register(approve=False)
    second, key = api.register(approve=False)
    assert fields(api.client.post(f"/organisations/{second}/refuse", headers=STAFF, json={})) == ["reason"]
    refused = api.client.post(f"/organisations/{second}/refuse", headers=STAFF, json={"reason": "code belongs to another body"})
    assert refused.json()["status"] == "refused" and refused.json()["decided_by"] == "reviewer-1"
    assert api.client.post(f"/organisations/{second}/approve", headers=STAFF).status_code == 409
    assert api.client.post("/organisations/org-nobody/approve", headers=STAFF).status_code == 404
    listed = api.client.get("/organisations", params={"status": "pending"}, headers=STAFF).json()
    assert [o["organisation_id"] for o in listed] == [first]
    assert api.client.post("/offerings", json=offering(), headers=key).status_code == 403


def test_a_decision_records_the_person_acting_through_the_staff_key(api: CharityUnderTest) -> None:
    first, _ = api.register(approve=False)
    second, _ = api.register(approve=False)
    bad = api.client.post(f"/organisations/{first}/approve", headers={**STAFF, "X-Acting-User": "Robert'); DROP"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["header", "X-Acting-User"]
    assert api.client.get(f"/organisations/{first}", headers=STAFF).json()["status"] == "pending"  # nothing written
    approved = api.client.post(f"/organisations/{first}/approve", headers={**STAFF, "X-Acting-User": "rita"})
    assert approved.json()["decided_by"] == "rita (reviewer-1)"
    refused = api.client.post(f"/organisations/{second}/refuse", headers={**STAFF, "X-Acting-User": "ada"}, json={"reason": "not a charity"})
    assert refused.json()["decided_by"] == "ada (reviewer-1)"
    assert "rita (reviewer-1)" in api.client.post(f"/organisations/{first}/refuse", headers=STAFF, json={"reason": "again"}).json()["detail"]


def test_an_organisation_changes_its_own_record(api: CharityUnderTest) -> None:
    organisation_id, key = api.register()
    changed = api.client.patch(f"/organisations/{organisation_id}", headers=key, json={"contact_phone": "021-64001234"})
    assert changed.status_code == 200 and changed.json()["contact_phone"] == "021-64001234"
    assert fields(api.client.patch(f"/organisations/{organisation_id}", headers=key, json={"districts": ["1"]})) == ["districts"]


def test_a_pending_organisation_may_not_publish(api: CharityUnderTest) -> None:
    organisation_id, key = api.register(approve=False)
    answer = api.client.post("/offerings", json=offering(), headers=key)
    assert answer.status_code == 403 and "approved" in answer.json()["detail"]
    assert api.client.post(f"/organisations/{organisation_id}/approve", headers=STAFF).status_code == 200
    assert api.client.post("/offerings", json=offering(), headers=key).status_code == 201  # its remembered key says approved at once


def test_keys_created_listed_and_revoked_at_once(api: CharityUnderTest) -> None:
    organisation_id, first = api.register()
    created = api.client.post(f"/organisations/{organisation_id}/keys", headers=first, json={"label": "tablet"})
    assert created.status_code == 201
    second = {"X-API-Key": created.json()["api_key"]}
    assert api.client.get("/offerings", headers=second).status_code == 200
    revoked = api.client.delete(f"/organisations/{organisation_id}/keys/{created.json()['key_id']}", headers=first)
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert api.client.get("/offerings", headers=second).status_code == 401
    assert api.client.get("/offerings", headers=first).status_code == 200
    assert api.client.delete(f"/organisations/{organisation_id}/keys/000000000000", headers=first).status_code == 404
    listed = api.client.get(f"/organisations/{organisation_id}/keys", headers=STAFF).json()
    assert [k["active"] for k in listed] == [True, False]


# --- offerings -------------------------------------------------------------------------------------


def test_publishing_writes_the_row_and_its_event_together(api: CharityUnderTest) -> None:
    organisation_id, key = api.register()
    published = api.publish(key)
    assert published["status"] == "open" and published["quantity_remaining"] == 10
    ((topic, event_key, event),) = outbox(api.charity)
    assert topic == "test.hub.offerings.v1" and event_key == published["offering_id"]
    assert isinstance(event, OfferingPublishedV2)
    assert event.data.charity_id == organisation_id and event.data.quantity_total == 10


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quantity_total": -1}, "quantity_total"),
        ({"quantity_total": 5_000_000}, "quantity_total"),
        ({"programme": "DIBAO"}, "programme"),
        ({"category": "pets"}, "category"),
        ({"service_area": {"districts": ["310199"]}}, "service_area.districts"),
        ({"eligibility": {"min_age": 80, "max_age": 60}}, "eligibility"),
        ({"valid_from": "2027-03-01", "valid_until": "2027-02-01"}, ""),
        ({"valid_from": "2020-01-01", "valid_until": "2020-02-01"}, "valid_until"),
        ({"kind": "loan"}, "kind"),
    ],
)
def test_offering_rejections_name_the_field_and_write_nothing(api: CharityUnderTest, changes: dict[str, object], field: str) -> None:
    _, key = api.register()
    answer = api.client.post("/offerings", json=offering(**changes), headers=key)
    assert fields(answer) == [field]
    assert answer.json()["detail"][0]["msg"]
    with Session(api.charity.engine) as session:
        assert session.exec(select(func.count()).select_from(Offering)).one() == 0
    assert outbox(api.charity) == []


def test_change_confirm_withdraw(api: CharityUnderTest) -> None:
    _, key = api.register()
    offering_id = api.publish(key)["offering_id"]
    changed = api.client.patch(f"/offerings/{offering_id}", headers=key, json={"quantity_total": 20, "title": "Bigger parcel"})
    assert changed.status_code == 200 and changed.json()["quantity_remaining"] == 20
    assert fields(api.client.patch(f"/offerings/{offering_id}", headers=key, json={"valid_until": "2000-01-01"})) == ["valid_until"]
    confirmed = api.client.post(f"/offerings/{offering_id}/confirm-capacity", headers=key, json={"quantity_remaining": 15})
    assert confirmed.json()["quantity_remaining"] == 15 and confirmed.json()["quantity_total"] == 15
    withdrawn = api.client.post(f"/offerings/{offering_id}/withdraw", headers=key, json={"reason": "donor cancelled"})
    assert withdrawn.json()["status"] == "withdrawn"
    again = api.client.patch(f"/offerings/{offering_id}", headers=key, json={"title": "Back again"})
    assert again.status_code == 409 and "withdrawn" in again.json()["detail"]
    types = [type(e) for _, _, e in outbox(api.charity)]
    assert types == [OfferingPublishedV2, OfferingChangedV2, OfferingChangedV2, OfferingWithdrawn]


def test_a_change_may_not_leave_less_than_is_promised(api: CharityUnderTest) -> None:
    organisation_id, key = api.register()
    offering_id = api.publish(key, quantity_total=5)["offering_id"]
    api.propose(offering_id, organisation_id, "m-1", quantity=3)
    assert api.client.post("/inbox/m-1/accept", headers=key).status_code == 200
    assert api.client.get(f"/offerings/{offering_id}", headers=key).json()["quantity_promised"] == 3
    answer = api.client.patch(f"/offerings/{offering_id}", headers=key, json={"quantity_total": 2})
    assert fields(answer) == ["quantity_total"] and "at least 3" in answer.json()["detail"][0]["msg"]
    assert fields(api.client.post(f"/offerings/{offering_id}/confirm-capacity", headers=key, json={"quantity_remaining": 2})) == ["quantity_remaining"]
    assert api.client.get(f"/offerings/{offering_id}", headers=key).json()["quantity_total"] == 5


def test_lists_filter_and_the_public_list_shows_no_contact(api: CharityUnderTest) -> None:
    _, key = api.register()
    food = api.publish(key)["offering_id"]
    care = api.publish(key, category="care", programme="CHARITY_SERVICE", service_area={"districts": ["310105"]})["offering_id"]
    citywide = api.publish(key, category="care", programme="CHARITY_SERVICE", service_area={})["offering_id"]
    api.client.post(f"/offerings/{care}/withdraw", headers=key)

    def ids(path: str, **params: object) -> set[str]:
        answer = api.client.get(path, params=params, headers=key if path == "/offerings" else {})
        assert answer.status_code == 200, answer.text
        return {o["offering_id"] for o in answer.json()}

    assert ids("/offerings", category="food") == {food}
    assert ids("/offerings", district="310105") == {care, citywide}
    assert ids("/offerings", closed=True) == {care}
    assert ids("/offerings", closed=False) == {food, citywide}
    assert ids("/public/offerings") == {food, citywide}
    assert ids("/public/offerings", district="310104", category="food") == {food}
    public = api.client.get("/public/offerings").text
    assert "13812345678" not in public and "李老师" not in public and "contact" not in public


def test_the_periodic_check_closes_and_makes_stale(api: CharityUnderTest) -> None:
    _, key = api.register()
    stale = api.publish(key, confirm_every_days=1)["offering_id"]
    expiring = api.publish(key, valid_until=str(date.today() + timedelta(days=1)))["offering_id"]
    swept = sweep(api.charity, utc_now() + timedelta(days=3))
    assert (swept.closed, swept.stale) == (1, 1)
    assert api.client.get(f"/offerings/{stale}", headers=key).json()["status"] == "stale"
    closed = api.client.get(f"/offerings/{expiring}", headers=key).json()
    assert (closed["status"], closed["closed_reason"]) == ("closed", "expired")
    assert stale not in {o["offering_id"] for o in api.client.get("/public/offerings").json()}
    assert api.client.post(f"/offerings/{stale}/confirm-capacity", headers=key).json()["status"] == "open"
    events = [e for _, _, e in outbox(api.charity)][2:]
    assert [type(e) for e in events] == [OfferingChangedV2, OfferingClosed, OfferingChangedV2]
    assert events[0].data.status == "stale" and events[1].data.closed_reason == "expired" and events[2].data.status == "open"
    assert sweep(api.charity, utc_now()) .closed == 0  # nothing new: no event again


# --- the inbox -------------------------------------------------------------------------------------


def test_a_proposal_reaches_its_organisation_only_without_personal_data(api: CharityUnderTest) -> None:
    organisation_id, key = api.register()
    _, other = api.register()
    offering_id = api.publish(key)["offering_id"]
    api.propose(offering_id, organisation_id, "m-1", household_id="hh-secret-1")
    (entry,) = api.client.get("/inbox", headers=key).json()
    assert entry["match_id"] == "m-1" and entry["household_size"] == 3 and entry["subdistrict"] == "310104003"
    assert "hh-secret-1" not in api.client.get("/inbox/m-1", headers=key).text
    assert not ({"household_id", "person_key", "name", "address"} & set(entry))
    assert api.client.get("/inbox", headers=other).json() == []
    assert api.client.get("/inbox/m-1", headers=other).status_code == 404


def test_accept_then_deliver_emits_each_step_keyed_by_household_and_closes_at_zero(api: CharityUnderTest) -> None:
    organisation_id, key = api.register()
    offering_id = api.publish(key, quantity_total=2)["offering_id"]
    proposal = api.propose(offering_id, organisation_id, "m-1", household_id="hh-7", quantity=2)
    assert api.client.post("/inbox/m-1/accept", headers=key).json()["state"] == "accepted"
    assert api.client.post("/inbox/m-1/start", headers=key).json()["state"] == "in-progress"
    delivered = api.client.post("/inbox/m-1/fulfil", headers=key, json={"delivered_on": str(date.today()), "note": "at the door"})
    assert delivered.status_code == 200 and delivered.json()["amount_fen"] == 30000
    offering_after = api.client.get(f"/offerings/{offering_id}", headers=key).json()
    assert (offering_after["status"], offering_after["closed_reason"], offering_after["quantity_remaining"]) == ("closed", "exhausted", 0)
    matches = [(k, e) for t, k, e in outbox(api.charity) if t.endswith("matches.v1")]
    assert [type(e) for _, e in matches] == [MatchAccepted, MatchStarted, MatchFulfilled]
    assert all(k == "hh-7" and e.household_id == "hh-7" and e.correlation_id == proposal.correlation_id for k, e in matches)
    fulfilled = matches[-1][1].data
    assert (fulfilled.programme, fulfilled.quantity, fulfilled.amount_fen, fulfilled.charity_id) == ("CHARITY_FOOD", 2, 30000, organisation_id)
    assert isinstance(outbox(api.charity)[-1][2], OfferingClosed)
    again = api.client.post("/inbox/m-1/fulfil", headers=key)
    assert again.status_code == 409 and "already recorded" in again.json()["detail"]


def test_delivery_straight_after_accepting_passes_through_started(api: CharityUnderTest) -> None:
    organisation_id, key = api.register()
    offering_id = api.publish(key)["offering_id"]
    api.propose(offering_id, organisation_id, "m-1")
    api.client.post("/inbox/m-1/accept", headers=key)
    assert api.client.post("/inbox/m-1/fulfil", headers=key).json()["state"] == "completed"
    types = [type(e) for t, _, e in outbox(api.charity) if t.endswith("matches.v1")]
    assert types == [MatchAccepted, MatchStarted, MatchFulfilled]


def test_decline_with_coded_reasons_and_impossible_moves(api: CharityUnderTest) -> None:
    organisation_id, key = api.register()
    offering_id = api.publish(key)["offering_id"]
    for n in (1, 2):
        api.propose(offering_id, organisation_id, f"m-{n}")
    assert fields(api.client.post("/inbox/m-1/decline", headers=key, json={"reason_code": "other"})) == ["reason"]
    assert fields(api.client.post("/inbox/m-1/decline", headers=key, json={"reason_code": "busy"})) == ["reason_code"]
    declined = api.client.post("/inbox/m-1/decline", headers=key, json={"reason_code": "other", "reason": "ring 13812345678"})
    assert declined.json()["state"] == "rejected" and "13812345678" not in declined.text
    impossible = api.client.post("/inbox/m-1/fulfil", headers=key)
    assert impossible.status_code == 409 and "declined" in impossible.json()["detail"]
    assert api.client.post("/inbox/m-2/start", headers=key).status_code == 409
    assert api.client.post("/inbox/m-2/decline", headers=key, json={"reason_code": "outside_area"}).status_code == 200
    (event,) = [e for _, _, e in outbox(api.charity) if isinstance(e, MatchDeclinedV2) and e.data.match_id == "m-1"]
    assert event.data.reason_code == "other" and "13812345678" not in event.data.reason
    totals = api.client.get("/stats/social-forces", headers=STAFF).json()["totals"]
    assert totals["declines_by_reason"] == {"other": 1, "outside_area": 1}


def test_answering_after_the_deadline_is_a_conflict_and_expires_it(api: CharityUnderTest) -> None:
    organisation_id, key = api.register()
    offering_id = api.publish(key)["offering_id"]
    api.propose(offering_id, organisation_id, "m-1", expires_at=utc_now() - timedelta(minutes=1))
    late = api.client.post("/inbox/m-1/accept", headers=key)
    assert late.status_code == 409 and "deadline" in late.json()["detail"]
    assert api.client.get("/inbox/m-1", headers=key).json()["state"] == "expired"
    assert [e for t, _, e in outbox(api.charity) if t.endswith("matches.v1")] == []


def test_accepting_more_than_is_left_unpromised_is_a_conflict(api: CharityUnderTest) -> None:
    organisation_id, key = api.register()
    offering_id = api.publish(key, quantity_total=2)["offering_id"]
    api.propose(offering_id, organisation_id, "m-1", quantity=2)
    api.propose(offering_id, organisation_id, "m-2", quantity=1)
    assert api.client.post("/inbox/m-1/accept", headers=key).status_code == 200
    crowded = api.client.post("/inbox/m-2/accept", headers=key)
    assert crowded.status_code == 409 and "only 0" in crowded.json()["detail"]


def test_failure_is_reported_with_masked_text(api: CharityUnderTest) -> None:
    organisation_id, key = api.register()
    offering_id = api.publish(key)["offering_id"]
    api.propose(offering_id, organisation_id, "m-1")
    api.client.post("/inbox/m-1/accept", headers=key)
    assert fields(api.client.post("/inbox/m-1/fail", headers=key, json={})) == ["reason"]
    assert api.client.post("/inbox/m-1/fail", headers=key, json={"reason": "nobody home"}).json()["state"] == "failed"
    assert isinstance(outbox(api.charity)[-1][2], MatchFailed)


def test_matching_cancels_and_expires_with_the_reason(api: CharityUnderTest) -> None:
    from tests.integration.charity_support import proposal

    organisation_id, key = api.register()
    offering_id = api.publish(key)["offering_id"]
    for n in (1, 2, 3):
        api.propose(offering_id, organisation_id, f"m-{n}")
    api.client.post("/inbox/m-3/decline", headers=key, json={"reason_code": "no_capacity"})
    outcome = {"offering_id": offering_id, "need_id": "need-x"}
    cancelled = MatchCancelled(source="matching", household_id="hh-1", data={
        **outcome, "match_id": "m-1", "charity_id": organisation_id, "reason_code": "need_met"})
    expired = MatchExpired(source="matching", household_id="hh-1", data={**outcome, "match_id": "m-2"})
    late = MatchCancelled(source="matching", household_id="hh-1", data={
        **outcome, "match_id": "m-3", "charity_id": organisation_id, "reason_code": "need_met"})
    from services.charity.handlers import apply_batch

    with api.charity.unit_of_work() as unit:
        outcome_ = apply_batch(unit, [cancelled, expired, late, cancelled, proposal(offering_id, organisation_id, "m-1")])
        unit.commit()
    assert (outcome_.closed, outcome_.duplicates, outcome_.skipped) == (2, 2, 1)
    states = {m["match_id"]: (m["state"], m["reason_code"]) for m in api.client.get("/inbox", headers=key).json()}
    assert states == {"m-1": ("cancelled", "need_met"), "m-2": ("expired", "expired_by_matching"), "m-3": ("rejected", "no_capacity")}
    assert api.client.post("/inbox/m-1/accept", headers=key).status_code == 409


def test_proposals_for_unknown_offerings_or_another_organisation_are_skipped(api: CharityUnderTest) -> None:
    organisation_id, key = api.register()
    other_id, _ = api.register()
    offering_id = api.publish(key)["offering_id"]
    from services.charity.handlers import apply_batch
    from tests.integration.charity_support import proposal

    with api.charity.unit_of_work() as unit:
        outcome = apply_batch(unit, [proposal("off-unknown", organisation_id, "m-1"), proposal(offering_id, other_id, "m-2")])
        unit.commit()
    assert (outcome.proposed, outcome.skipped) == (0, 2)
    assert api.client.get("/inbox", headers=STAFF).json() == []


def test_statistics_by_district_category_month_and_organisation(api: CharityUnderTest) -> None:
    organisation_id, key = api.register()
    offering_id = api.publish(key, quantity_total=10, service_area={"districts": ["310104", "310105"]})["offering_id"]
    api.propose(offering_id, organisation_id, "m-1", quantity=2)
    api.client.post("/inbox/m-1/accept", headers=key)
    api.client.post("/inbox/m-1/fulfil", headers=key)
    month = f"{date.today():%Y-%m}"
    report = api.client.get("/stats/social-forces", params={"from": month, "to": month}, headers=STAFF).json()
    assert report["totals"] | {"organisations": None} == {
        "organisations": None, "offerings": 1, "capacity_offered": 10, "value_offered_fen": 150000, "matched": 2,
        "value_matched_fen": 30000, "delivered": 2, "value_delivered_fen": 30000, "declines_by_reason": {}}
    rows = {(r["district"], r["category"], r["month"]): r for r in report["rows"]}
    assert rows[("310104", "food", month)]["delivered"] == 2 and rows[("310105", "food", month)]["capacity_offered"] == 10
    (mine,) = report["organisations"]
    assert (mine["organisation_id"], mine["value_delivered_fen"]) == (organisation_id, 30000)
    assert api.client.get("/stats/social-forces", params={"from": "2026-13"}, headers=STAFF).status_code == 422


def test_match_outcomes_by_organisation_and_category(api: CharityUnderTest) -> None:
    organisation_id, key = api.register()
    offering_id = api.publish(key, quantity_total=10)["offering_id"]
    for match_id in ("m-1", "m-2", "m-3"):
        api.propose(offering_id, organisation_id, match_id, quantity=1)
    api.client.post("/inbox/m-1/accept", headers=key)
    api.client.post("/inbox/m-1/fulfil", headers=key)
    api.client.post("/inbox/m-2/decline", headers=key, json={"reason_code": "outside_area"})
    (outcome,) = api.client.get("/stats/social-forces", headers=STAFF).json()["outcomes"]
    assert outcome == {"organisation_id": organisation_id, "name": outcome["name"], "category": "food", "proposed": 3, "open": 1,
                       "accepted": 0, "declined": 1, "fulfilled": 1, "failed": 0, "cancelled": 0, "expired": 0,
                       "declines_by_reason": {"outside_area": 1}}


def test_the_busy_lists_answer_exactly_the_documented_shapes(api: CharityUnderTest) -> None:
    from services.charity.shapes import MatchOut, OfferingOut

    organisation_id, key = api.register()
    offering_id = api.publish(key)["offering_id"]
    api.propose(offering_id, organisation_id, "m-1")
    (listed,) = api.client.get("/offerings", headers=key).json()
    assert set(listed) == set(OfferingOut.model_fields)
    assert OfferingOut.model_validate(listed).model_dump(mode="json", exclude={"quantity_promised"}) == \
        OfferingOut.model_validate(api.client.get(f"/offerings/{offering_id}", headers=key).json()).model_dump(mode="json", exclude={"quantity_promised"})
    (entry,) = api.client.get("/inbox", headers=key).json()
    assert set(entry) == set(MatchOut.model_fields)
    assert MatchOut.model_validate(entry) == MatchOut.model_validate(api.client.get("/inbox/m-1", headers=key).json())
