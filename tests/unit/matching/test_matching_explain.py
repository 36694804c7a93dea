"""Why a need is unmatched, the match explanation, and the two staff reports."""

from __future__ import annotations

from datetime import timedelta

from services.matching.explain import explain_match, explain_need, fairness_report, unmet_report
from tests.matching_events import NOW, declined, household_state, need_recorded, offering_published
from tests.unit.matching.test_matching_loop import feed, new_pool, run_round

TODAY = NOW.date()


def reason(pool, need_id: str) -> str:  # type: ignore[no-untyped-def]
    return explain_need(pool, need_id, TODAY)["reason"]  # type: ignore[index]


def test_each_reason_for_an_unmatched_need() -> None:
    pool = new_pool()
    feed(pool, household_state("h1"), need_recorded("CA:n1", "h1"))
    assert reason(pool, "CA:n1") == "no_offering_in_area"
    feed(pool, offering_published("o-far", units=1, area={"districts": ["310115"]}))
    assert reason(pool, "CA:n1") == "no_offering_in_area"
    feed(pool, offering_published("o-old", units=1, eligibility={"min_age": 90}))
    assert reason(pool, "CA:n1") == "not_eligible"
    feed(pool, offering_published("o1", units=1))
    assert reason(pool, "CA:n1") == "waiting_for_round"
    (p,) = run_round(pool)
    assert reason(pool, "CA:n1") == "proposed"
    feed(pool, declined("h1", p.data.match_id, "o1", "CA:n1"))
    assert reason(pool, "CA:n1") == "declined_by_all"
    feed(pool, household_state("h2"), need_recorded("CA:n2", "h2"))
    (p2,) = run_round(pool)
    assert p2.data.need_id == "CA:n2"
    feed(pool, household_state("h3"), need_recorded("CA:n3", "h3"))
    assert reason(pool, "CA:n3") == "not_eligible"  # o1's unit is promised; o-old needs age 90
    feed(pool, household_state("h4", programmes=("GRAIN_OIL",)), need_recorded("CA:n4", "h4"))
    assert reason(pool, "CA:n4") == "already_served"
    assert explain_need(pool, "nope", TODAY) is None


def test_no_capacity_when_every_unit_is_promised() -> None:
    pool = new_pool()
    feed(pool, household_state("h1"), need_recorded("CA:n1", "h1", urgency=5), offering_published("o1", units=1))
    run_round(pool)
    feed(pool, household_state("h2"), need_recorded("CA:n2", "h2"))
    assert reason(pool, "CA:n2") == "no_capacity"


def test_the_match_explanation_names_every_rule_and_term() -> None:
    pool = new_pool()
    feed(pool, household_state("h1", colour="red", received={"food": 1}),
         need_recorded("CA:n1", "h1", urgency=4, assessed_on=TODAY - timedelta(days=3)),
         offering_published("o1", units=2, area={"districts": ["310104"]}))
    (p,) = run_round(pool)
    why = explain_match(pool, p.data.match_id, TODAY)
    assert why is not None and all(r["passed"] for r in why["rules"]) and len(why["rules"]) == 11
    terms = {k: (v["value"], v["points"]) for k, v in why["priority_terms"].items()}
    assert terms == {"urgency": (4, 400_000), "colour": ("red", 30_000), "waiting": (3, 30), "received": (1, 6),
                     "nearness": ("same_district", 1)}
    assert why["priority_now"] == why["priority_at_proposal"] == 430_037


def test_unmet_report_counts_reasons_and_waiting_by_category_and_district() -> None:
    pool = new_pool()
    feed(pool, household_state("h1"), need_recorded("CA:n1", "h1", assessed_on=TODAY - timedelta(days=10)))
    feed(pool, household_state("h2", district="310115", subdistrict=None), need_recorded("CA:n2", "h2", category="medical"))
    feed(pool, household_state("h3"), need_recorded("CA:n3", "h3", assessed_on=TODAY - timedelta(days=2)))
    report = unmet_report(pool, TODAY)
    assert report["total"] == 3
    food = next(c for c in report["cells"] if c["category"] == "food")
    assert (food["district"], food["open_needs"], food["reasons"]["no_offering_in_area"]) == ("310104", 2, 2)
    assert food["waiting_days"] == {"mean": 6.0, "median": 10, "max": 10}
    assert unmet_report(pool, TODAY, category="medical")["total"] == 1


def test_fairness_compares_share_of_need_with_share_of_units() -> None:
    pool = new_pool()
    for i in range(3):
        feed(pool, household_state(f"a{i}"), need_recorded(f"CA:a{i}", f"a{i}"))
    feed(pool, household_state("b0", district="310115", subdistrict=None), need_recorded("CA:b0", "b0"))
    feed(pool, offering_published("o1", units=1, area={"districts": ["310115"]}))
    run_round(pool)
    report = fairness_report(pool, NOW, 30)
    rows = {r["district"]: r for r in report["districts"]}
    assert rows["310104"]["share_of_open_needs"] == 0.75 and rows["310104"]["share_of_units_proposed"] == 0.0
    assert rows["310115"]["ratio"] == 4.0
