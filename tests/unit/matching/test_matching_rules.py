"""Eligibility, double-serving exclusion and every priority term, checked directly; and the
round's vectorised candidates agree with the rule-by-rule check on random pools."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from bench.matching_data import pool as synthetic_pool
from contracts.hub import OfferingDataV2
from services.matching.candidates import RoundInput, generate, need_arrays, offering_arrays
from services.matching.eligibility import check, eligible, failed
from services.matching.model import Household, Need, Offering
from services.matching.priority import PriorityError, load_weights, need_terms, terms, total
from tests.matching_events import NOW, offering_record

TODAY = NOW.date()
WEIGHTS = load_weights()


def household(**fields) -> Household:  # type: ignore[no-untyped-def]
    base = {"household_id": "h1", "district": "310104", "subdistrict": "310104-01", "category": "dibao", "colour": "yellow",
            "birth_years": [1980]}
    return Household(**(base | fields))


def need(**fields) -> Need:  # type: ignore[no-untyped-def]
    base = {"need_id": "CA:n1", "household_id": "h1", "category": "food", "urgency": 3, "assessed_on": TODAY, "recorded_at": NOW}
    return Need(**(base | fields))


def offering(**fields) -> Offering:  # type: ignore[no-untyped-def]
    record = OfferingDataV2.model_validate(offering_record("o1", **fields))
    return Offering("o1", record, NOW)


def failures(h: Household | None, o: Offering, n: Need | None = None, free: int = 5, declined: bool = False) -> list[str]:
    return failed(check(n or need(), h, o, TODAY, free, declined))


def test_an_unrestricted_offering_in_the_category_is_eligible() -> None:
    assert eligible(check(need(), household(), offering(), TODAY, 5, False))


@pytest.mark.parametrize(
    ("h", "o", "rule"),
    [
        (household(), offering(category="medical"), "category"),
        (household(category="marginal"), offering(eligibility={"household_categories": ["dibao", "low_income"]}), "household_category"),
        (household(category=None), offering(eligibility={"household_categories": ["dibao"]}), "household_category"),
        (household(colour="green"), offering(eligibility={"colours": ["red", "orange"]}), "colour"),
        (household(birth_years=[1990, 2000]), offering(eligibility={"min_age": 60}), "age"),
        (household(birth_years=[1950]), offering(eligibility={"max_age": 17}), "age"),
        (household(birth_years=[]), offering(eligibility={"min_age": 60}), "age"),
        (household(programmes=["DIBAO"]), offering(eligibility={"disability_required": True}), "disability"),
        (household(category="marginal"), offering(eligibility={"registered_residence_required": True}), "registered_residence"),
        (household(district="310115", subdistrict="310115-03"), offering(area={"districts": ["310104"]}), "service_area"),
        (household(subdistrict="310104-02"), offering(area={"subdistricts": ["310104-01"]}), "service_area"),
        (household(), offering(valid_until=TODAY - timedelta(days=1)), "validity"),
        (household(), offering(valid_from=TODAY + timedelta(days=1)), "validity"),
        (household(), offering(status="stale"), "validity"),
    ],
)
def test_each_rule_refuses_what_it_names(h: Household, o: Offering, rule: str) -> None:
    assert failures(h, o) == [rule]


def test_rules_met_when_they_hold() -> None:
    h = household(birth_years=[1950, 2015], programmes=["SEVERE_DISABILITY"], colour="red")
    o = offering(eligibility={"min_age": 60, "max_age": 80, "disability_required": True, "colours": ["red"],
                              "household_categories": ["dibao"], "registered_residence_required": True},
                 area={"districts": ["310115"], "subdistricts": ["310104-01"]})
    assert failures(h, o) == []


def test_age_range_needs_one_member_within_it() -> None:
    o = offering(eligibility={"min_age": 6, "max_age": 17})
    assert failures(household(birth_years=[1980, 2015]), o) == []  # the child is 11
    assert failures(household(birth_years=[1980, 2024]), o) == ["age"]  # 46 and 2: neither within


def test_capacity_and_declined() -> None:
    assert failures(household(), offering(), free=0) == ["capacity"]
    assert failures(household(), offering(), declined=True) == ["not_declined"]


@pytest.mark.parametrize(("programme", "category"), [("GRAIN_OIL", "food"), ("CHARITY_FOOD", "food"), ("MEDICAL", "medical"),
                                                     ("TEMPORARY", "emergency"), ("CHARITY_MONEY", "emergency")])
def test_double_serving_a_category_held_from_any_source_is_refused(programme: str, category: str) -> None:
    h = household(programmes=[programme])
    assert failures(h, offering(category=category), need(category=category)) == ["not_already_served"]
    assert "not_already_served" not in failures(h, offering(category="housing"), need(category="housing"))


# --- priority terms -------------------------------------------------------------------------


def points(n: Need, h: Household | None, districts: list[str] = [], subdistricts: list[str] = []) -> dict[str, int]:  # noqa: B006
    return {name: int(term["points"]) for name, term in terms(n, h, districts, subdistricts, WEIGHTS, TODAY).items()}


def test_urgency_term() -> None:
    assert points(need(urgency=5), household())["urgency"] - points(need(urgency=4), household())["urgency"] == 100_000


def test_colour_term_red_orange_yellow_green() -> None:
    by_colour = [points(need(), household(colour=c))["colour"] for c in ("red", "orange", "yellow", "green")]
    assert by_colour == [30_000, 20_000, 10_000, 0]
    assert points(need(), household(colour=None))["colour"] == 0


def test_waiting_term_counts_days_up_to_its_cap() -> None:
    assert points(need(assessed_on=TODAY - timedelta(days=12)), household())["waiting"] == 120
    assert points(need(assessed_on=TODAY - timedelta(days=4000)), household())["waiting"] == 3650


def test_received_term_prefers_who_received_least_in_that_category() -> None:
    got = [points(need(), household(received={"food": k}))["received"] for k in (0, 1, 2, 3, 7)]
    assert got == [9, 6, 3, 0, 0]
    assert points(need(), household(received={"medical": 5}))["received"] == 9  # other categories do not count


def test_nearness_term_subdistrict_then_district_then_citywide() -> None:
    h = household()
    assert points(need(), h, subdistricts=["310104-01"])["nearness"] == 2
    assert points(need(), h, districts=["310104"])["nearness"] == 1
    assert points(need(), h)["nearness"] == 0


def test_strict_order_holds_with_the_shipped_weights() -> None:
    urgent_green_fresh = total(terms(need(urgency=4), household(colour="green", received={"food": 9}), [], [], WEIGHTS, TODAY))
    less_urgent_best_else = total(terms(need(urgency=3, assessed_on=TODAY - timedelta(days=900)), household(colour="red"), [],
                                        ["310104-01"], WEIGHTS, TODAY))
    assert urgent_green_fresh > less_urgent_best_else


# --- the weights file -------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "priority.toml"
    path.write_text(text, encoding="utf-8")
    return path


SHIPPED = Path("services/matching/priority.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("points_per_level = 100000", "points_per_level = 5000"), "urgency.points_per_level (5000) must exceed"),
        (("points_per_day = 10", "points_per_day = -1"), "waiting.points_per_day"),
        (("points_per_day = 10", 'points_per_day = "ten"'), "waiting.points_per_day"),
        (("5 = 7", ""), "overdue_days"),
        (("same_district = 1", "same_district = 9"), "nearness"),
        (("[nearness]", "[nearnes]"), "nearnes"),
        (("version =", "version = = "), "not valid TOML"),
    ],
)
def test_a_bad_weights_file_is_refused_with_one_line(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = write(tmp_path, SHIPPED.replace(*change))
    with pytest.raises(PriorityError) as refused:
        load_weights(path)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_a_missing_weights_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PriorityError, match="cannot be read"):
        load_weights(tmp_path / "nope.toml")


# --- the round's arrays agree with the rules ---------------------------------------------------


def test_vectorised_candidates_agree_with_the_rule_by_rule_check() -> None:
    households, needs, offerings = synthetic_pool(600, 120, 400, seed=3)
    rng = random.Random(5)
    for o in offerings:  # some offerings with units all promised
        if rng.random() < 0.1:
            o.record = o.record.model_copy(update={"quantity_remaining": 0})
    today = date(2026, 12, 2)
    free = {o.offering_id: o.record.quantity_remaining for o in offerings}
    refused = {(rng.randrange(len(needs)), rng.randrange(len(offerings))) for _ in range(300)}
    import numpy as np

    declined = np.array(sorted(i * len(offerings) + j for i, j in refused), dtype=np.int64)
    round_input = RoundInput(need_arrays(needs, households, WEIGHTS, today), offering_arrays(offerings, free), declined, (0, 1, 2), per_need=0)
    pairs = generate(round_input)
    got = {(int(i), int(j)): int(p) for i, j, p in zip(pairs.need, pairs.offering, pairs.priority, strict=True)}
    expected = {}
    for i, n in enumerate(needs):
        h = households[n.household_id]
        for j, o in enumerate(offerings):
            if eligible(check(n, h, o, today, free[o.offering_id], (i, j) in refused)):
                area = o.record.service_area
                expected[(i, j)] = total(terms(n, h, list(area.districts), list(area.subdistricts), WEIGHTS, today))
    assert len(expected) > 500
    assert got == expected


def test_need_terms_are_the_pair_terms_less_nearness() -> None:
    n, h = need(urgency=2), household(colour="orange", received={"food": 1})
    assert need_terms(n, h, WEIGHTS, TODAY) == {k: v for k, v in terms(n, h, [], [], WEIGHTS, TODAY).items() if k != "nearness"}
