"""`hub simulate`'s charity side: the organisations planned, how they answer, and the account."""

from __future__ import annotations

from collections import Counter
from datetime import date

from stdnum.cn import uscc

from contracts.catalogue import DISTRICTS, PROGRAMMES
from hub.simulate import plan_for
from hub.simulate_charity import (
    MET_SHARE, CharityTally, MatchLog, answer, credit_code, needs_by_category, plan_charities,
)
from hub.simulate_year import plan_year
from services.charity.offerings import OfferingInput
from services.charity.shapes import RegistrationIn

TODAY = date(2026, 12, 3)
NEEDS = Counter(food=120, care=90, medical=100, education=40, housing=30, employment=20, emergency=50)


def test_the_same_seed_plans_the_same_organisations_and_another_seed_others() -> None:
    first, again = plan_charities(NEEDS, 20_000, 5, TODAY), plan_charities(NEEDS, 20_000, 5, TODAY)
    other = plan_charities(NEEDS, 20_000, 6, TODAY)
    assert first.organisations == again.organisations
    assert [o.credit_code for o in first.organisations] != [o.credit_code for o in other.organisations]


def test_every_credit_code_is_valid_and_unique_and_every_registration_and_offering_is_accepted_by_the_service_shapes() -> None:
    plan = plan_charities(NEEDS, 200_000, 1, TODAY)
    codes = [o.credit_code for o in plan.organisations]
    assert len(plan.organisations) == 50  # Chengdu's 50 social-work agencies at Shanghai's scale
    assert all(uscc.is_valid(c) for c in codes) and len(set(codes)) == len(codes)
    assert len({o.name for o in plan.organisations}) == len(plan.organisations)
    for organisation in plan.organisations:
        RegistrationIn.model_validate(organisation.registration())
        for offering in organisation.offerings:
            made = OfferingInput.model_validate(offering.body())
            assert PROGRAMMES[made.programme].department == "CHARITY"


def test_a_changed_character_breaks_the_credit_code() -> None:
    import random

    code = credit_code(random.Random(1), "foundation", "310104")
    assert code.startswith("53310104") and uscc.is_valid(code)
    broken = code[:10] + ("1" if code[10] != "1" else "2") + code[11:]
    assert not uscc.is_valid(broken)


def test_units_follow_the_needs_at_the_share_of_needs_given_a_plan() -> None:
    plan = plan_charities(NEEDS, 20_000, 3, TODAY)
    for category, needs in NEEDS.items():
        assert needs * MET_SHARE <= plan.units(category) <= needs * MET_SHARE + 10, category  # rounded up per offering
    ample = plan_charities(NEEDS, 20_000, 3, TODAY, coverage=2.0)
    assert all(ample.units(c) >= 2 * n for c, n in NEEDS.items())


def test_every_category_with_needs_has_an_offering_and_every_district_a_local_organisation() -> None:
    plan = plan_charities(NEEDS, 20_000, 4, TODAY)
    for category in NEEDS:
        assert plan.units(category) > 0, category
    local = [org.districts for org in plan.organisations if org.districts]
    assert set().union(*local) == set(DISTRICTS)
    assert {org.kind for org in plan.organisations if not org.districts} <= {"foundation", "company"}


def test_an_exclusive_plan_gives_each_district_exactly_one_offering_per_category() -> None:
    plan = plan_charities(NEEDS, 20_000, 7, TODAY, coverage=2.0, exclusive=True)
    for category in NEEDS:
        covered = Counter(d for org in plan.organisations for o in org.offerings if o.template.category == category for d in o.districts)
        assert covered == Counter(dict.fromkeys(DISTRICTS, 1)), category
    assert all(o.districts for o in plan.organisations)


def test_answers_are_about_80_15_5_with_coded_reasons_and_the_same_every_time() -> None:
    answers = [answer(9, f"CA:s9-ca-n-{n}", "爱心粮油包", "52310104MA1234567X") for n in range(6000)]
    outcomes = Counter(a.outcome for a in answers)
    assert 0.77 < outcomes["deliver"] / 6000 < 0.83
    assert 0.13 < outcomes["decline"] / 6000 < 0.17
    assert 0.035 < outcomes["fail"] / 6000 < 0.065
    declines = [a for a in answers if a.outcome == "decline"]
    assert {a.reason_code for a in declines} == {"no_capacity", "unreachable", "outside_area", "not_eligible", "other"}
    assert all(a.reason for a in declines if a.reason_code == "other")
    assert answers == [answer(9, f"CA:s9-ca-n-{n}", "爱心粮油包", "52310104MA1234567X") for n in range(6000)]
    assert answers != [answer(10, f"CA:s9-ca-n-{n}", "爱心粮油包", "52310104MA1234567X") for n in range(6000)]


def test_a_simulated_year_plans_organisations_for_its_own_needs() -> None:
    year = plan_year(400, seed=3)
    plan = plan_for(year, 3, MET_SHARE, TODAY)
    needs = needs_by_category([e.value for e in year.events if e.event_type == "need.assessed" and e.expected == "accepted" and not e.resend])
    assert sum(needs.values()) > 50
    assert all(plan.units(c) >= n * MET_SHARE for c, n in needs.items())


def log_of(*events: dict) -> MatchLog:  # type: ignore[type-arg]
    log = MatchLog(offerings={"off-1"})
    for event in events:
        log.take(event)
    return log


def test_the_account_holds_every_delivery_to_the_ledger() -> None:
    log = log_of(
        {"type": "match.proposed", "data": {"match_id": "m1", "offering_id": "off-1"}},
        {"type": "match.proposed", "data": {"match_id": "m2", "offering_id": "off-1"}},
        {"type": "match.proposed", "data": {"match_id": "m3", "offering_id": "off-1"}},
        {"type": "match.proposed", "data": {"match_id": "other", "offering_id": "off-of-someone-else"}},
        {"type": "match.fulfilled", "household_id": "hh-1", "data": {"match_id": "m1", "offering_id": "off-1"}},
    )
    tally = CharityTally()
    tally.outcome("m1", "completed", amount_fen=15_000)
    tally.outcome("m2", "rejected", "no_capacity")
    tally.outcome("m3", "failed")
    tally.in_ledger.add("m1")
    assert tally.problems(log) == []
    figures = tally.figures()
    assert figures["proposals"] == 3 and figures["delivered"] == 1 and figures["failed"] == 1
    assert figures["declined"] == {"no_capacity": 1} and figures["value_delivered_fen"] == 15_000

    tally.in_ledger.clear()
    assert any("never reached the ledger as a charity benefit" in p for p in tally.problems(log))


def test_the_account_counts_unanswered_unpublished_and_lost_proposals() -> None:
    log = log_of(
        {"type": "match.proposed", "data": {"match_id": "m1", "offering_id": "off-1"}},
        {"type": "match.proposed", "data": {"match_id": "m2", "offering_id": "off-1"}},
        {"type": "match.proposed", "data": {"match_id": "m3", "offering_id": "off-1"}},
    )
    tally = CharityTally()
    tally.outcome("m1", "accepted")
    tally.outcome("m2", "completed", amount_fen=100)
    problems = " | ".join(tally.problems(log))
    assert "1 proposal(s) left unanswered" in problems
    assert "1 proposal(s) matching published never reached an inbox" in problems
    assert "1 delivery(ies) recorded by the charity never published" in problems
