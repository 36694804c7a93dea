"""The person -> households index and the "person in two households" review item, directly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ledger.persons import PersonIndex, SharedPerson, SharedPersonAlreadyDecided, SharedPersonError

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_the_index_links_households_through_a_shared_member_only() -> None:
    index = PersonIndex([("p", "h1"), ("q", "h2")])
    assert index.linked("h1") == set() and not index.sharing
    assert index.add("p", "h2") == {"h1"}
    assert index.linked("h1") == {"h2"} and index.linked("h2") == {"h1"}
    assert index.members(["h1", "h2"]) == {"h1": {"p"}, "h2": {"p", "q"}}
    assert index.add("p", "h2") == {"h1"}  # again: the same answer, nothing new


def test_merges_move_memberships() -> None:
    index = PersonIndex([("p", "h1"), ("p2", "h2")])
    index.merge_persons("p", "p2")
    assert index.households_of("p") == {"h1", "h2"} and index.linked("h1") == {"h2"}
    index.merge_households("h1", "h2")
    assert index.households_of("p") == {"h1"} and index.linked("h1") == set()


def test_an_item_has_the_same_id_whichever_household_came_first() -> None:
    one = SharedPerson.raised("p", "h2", "h1", "e-1", NOW)
    other = SharedPerson.raised("p", "h1", "h2", "e-9", NOW)
    assert one.item_id == other.item_id and one.households == ("h1", "h2") and one.status == "open"


def test_staff_decide_once_and_two_households_name_where_the_person_belongs() -> None:
    item = SharedPerson.raised("p", "h1", "h2", "e-1", NOW)
    with pytest.raises(SharedPersonError, match="belongs_to"):
        item.decided("two_households", "h3", "no", "reviewer-1", NOW)
    two = item.decided("two_households", "h2", "lives at her son's", "reviewer-1", NOW)
    assert (two.status, two.belongs_to, two.decided_by) == ("two_households", "h2", "reviewer-1")
    with pytest.raises(SharedPersonAlreadyDecided):
        two.decided("one_household", None, "changed our minds", "reviewer-2", NOW)
    one = item.decided("one_household", "h2", "one family", "reviewer-1", NOW)
    assert (one.status, one.belongs_to) == ("one_household", None)
    assert SharedPerson.from_row(one.to_row()) == one
