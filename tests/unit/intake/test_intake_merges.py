"""Which keys intake merges, decided without a database: a provisional person into the numbered
person their record now fits, never twins, namesakes elsewhere or members of one report."""

from __future__ import annotations

from datetime import date

from contracts.hub import HUB_EVENTS, HouseholdMerged, PersonMerged
from services.intake.domain import Merge, merge_events, plan_merges, survivor_of_pair
from services.intake.linking import Candidate, CandidateIndex

HOME = "浦东新区张杨路1234弄5号601室"
NUMBERED, OTHER_NUMBERED = "p_" + "a" * 32, "p_" + "b" * 32
PROVISIONAL, OTHER_PROVISIONAL = "p_u_" + "1" * 30, "p_u_" + "2" * 30


def index_of(*people: Candidate) -> CandidateIndex:
    index = CandidateIndex()
    for person in people:
        index.add(person)
    return index


def test_a_numbered_person_takes_over_the_provisional_person_their_record_fits() -> None:
    numbered = Candidate(NUMBERED, "王建国", date(1962, 3, 14), HOME)
    provisional = Candidate(PROVISIONAL, "王 建國", date(1962, 3, 14), "上海市浦东新区张杨路1234弄5号楼601")
    merges = plan_merges([numbered], index_of(numbered, provisional), set())
    assert merges == [Merge(NUMBERED, PROVISIONAL, "numbered_record")]
    assert plan_merges([provisional], index_of(numbered, provisional), set()) == merges, "the same from either side"


def test_two_provisional_persons_merge_into_the_smaller_key() -> None:
    one = Candidate(OTHER_PROVISIONAL, "王建国", date(1962, 3, 14), HOME)
    other = Candidate(PROVISIONAL, "王建国", date(1962, 3, 14), HOME)
    assert plan_merges([one], index_of(one, other), set()) == [Merge(PROVISIONAL, OTHER_PROVISIONAL, "concurrent_link")]
    assert survivor_of_pair(PROVISIONAL, NUMBERED) == survivor_of_pair(NUMBERED, PROVISIONAL) == NUMBERED


def test_a_namesake_born_the_same_day_elsewhere_is_not_merged() -> None:
    numbered = Candidate(NUMBERED, "王建国", date(1962, 3, 14), HOME)
    provisional = Candidate(PROVISIONAL, "王建国", date(1962, 3, 14), "静安区江宁路88弄3号201室")
    assert plan_merges([numbered], index_of(numbered, provisional), set()) == []


def test_a_provisional_person_two_numbered_people_fit_equally_is_left_to_a_reviewer() -> None:
    twin = Candidate(NUMBERED, "王建国", date(1990, 5, 1), HOME)
    other_twin = Candidate(OTHER_NUMBERED, "王建囯", date(1990, 5, 1), HOME)
    provisional = Candidate(PROVISIONAL, "王建国", date(1990, 5, 1), HOME)
    index = index_of(twin, other_twin, provisional)
    assert plan_merges([provisional], index, set()) == []
    assert plan_merges([twin], index, set()) == [], "nor from the numbered side"
    homophone = Candidate(PROVISIONAL, "王建帼", date(1990, 5, 1), HOME)
    assert plan_merges([homophone], index_of(twin, other_twin, homophone), set()) == []


def test_members_of_one_report_are_never_merged() -> None:
    numbered = Candidate(NUMBERED, "王建国", date(1962, 3, 14), HOME)
    provisional = Candidate(PROVISIONAL, "王建国", date(1962, 3, 14), HOME)
    apart = {frozenset((NUMBERED, PROVISIONAL))}
    assert plan_merges([numbered], index_of(numbered, provisional), apart) == []


def test_merge_events_are_keyed_by_the_survivors_household_and_parse() -> None:
    events = merge_events(Merge(NUMBERED, PROVISIONAL, "numbered_record"), "hh-survivor", "hh-merged", None)
    person, household = (HUB_EVENTS.parse(e.to_bytes()) for _, e, _ in events)
    assert isinstance(person, PersonMerged) and isinstance(household, HouseholdMerged)
    assert [key for _, _, key in events] == ["hh-survivor", "hh-survivor"]
    assert person.data.merged_person_keys == [PROVISIONAL] and person.data.surviving_person_key == NUMBERED
    assert household.data.merged_household_ids == ["hh-merged"] and household.household_id == "hh-survivor"
    again = merge_events(Merge(NUMBERED, PROVISIONAL, "numbered_record"), "hh-survivor", None, None)
    assert [e.event_id for _, e, _ in again] == [person.event_id], "one merge, one event id, however often told"
