"""The alert lifecycle, directly: raised, closed by the ledger, decided by a reviewer, restored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ledger.alerts import (
    LEDGER,
    Alert,
    AlertAlreadyDecided,
    AlertError,
    AlertStatus,
    alert_id,
    follow,
    raised,
)
from services.ledger.domain import Conflict
from services.ledger.policy import Severity

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = "hh-1"


def conflict(*benefit_ids: str, rule: str = "R-EXCL-DIBAO-EXTREME") -> Conflict:
    return Conflict(rule_id=rule, severity=Severity.HIGH, household_id=H, benefit_ids=benefit_ids, description="both run")


def listing(found: Conflict) -> list[dict[str, str]]:
    return [{"benefit_id": b, "programme": b.split(":")[0], "source": "CA", "source_kind": "department"} for b in found.benefit_ids]


def an_alert() -> Alert:
    return raised(H, conflict("DIBAO:1", "EXTREME:2"), 0, "310115", listing(conflict("DIBAO:1", "EXTREME:2")), "e-1", NOW)


def test_a_raised_alert_is_open_and_active_with_a_replayable_id() -> None:
    alert = an_alert()
    assert (alert.status, alert.active, alert.programmes) == (AlertStatus.OPEN, True, ",DIBAO,EXTREME,")
    assert alert.alert_id == alert_id(H, alert.conflict_key, 0) == an_alert().alert_id


def test_the_ledger_resolves_an_open_alert_whose_conflict_is_gone() -> None:
    closed = an_alert().closed_by_ledger(LATER)
    assert (closed.status, closed.active, closed.resolved_at) == (AlertStatus.RESOLVED, False, LATER)
    with pytest.raises(AlertError):
        closed.closed_by_ledger(LATER)


def test_a_decided_alert_keeps_its_decision_when_its_conflict_goes() -> None:
    decided = an_alert().decided("confirmed_duplicate", "recover April", "reviewer-1", LATER)
    closed = decided.closed_by_ledger(LATER)
    assert (closed.status, closed.active, closed.decided_by) == ("confirmed_duplicate", False, "reviewer-1")


def test_a_reviewer_decides_once_and_only_as_a_reviewer_may() -> None:
    decided = an_alert().decided("justified", "two persons", "reviewer-1", LATER)
    assert (decided.status, decided.decision_note, decided.decided_at) == ("justified", "two persons", LATER)
    with pytest.raises(AlertAlreadyDecided, match="already decided: justified by reviewer-1"):
        decided.decided("confirmed_duplicate", "again", "reviewer-2", LATER)
    with pytest.raises(AlertError):
        an_alert().decided("resolved", "not a reviewer's word", "reviewer-1", LATER)


def test_a_resolved_alert_may_still_be_decided() -> None:
    decided = an_alert().closed_by_ledger(LATER).decided("justified", "it was right", "reviewer-1", LATER)
    assert decided.status == "justified"


def test_restoring_takes_only_reviewers_decisions() -> None:
    alert = an_alert()
    assert alert.restored("resolved", "", LEDGER, LATER) == alert
    assert alert.restored("justified", "ok", "reviewer-1", LATER).status == "justified"


def test_a_row_round_trips() -> None:
    alert = an_alert()
    assert Alert.from_row(alert.to_row()) == alert


def test_follow_raises_new_conflicts_and_closes_gone_ones_in_place() -> None:
    alerts: list[Alert] = []
    first = follow(alerts, H, "310115", [conflict("A:1", "B:2")], listing, "e-1", NOW)
    assert [a.status for a in first.raised] == ["open"] and not first.closed
    assert not follow(alerts, H, "310115", [conflict("A:1", "B:2")], listing, "e-2", NOW)  # nothing new
    gone = follow(alerts, H, "310115", [], listing, "e-3", LATER)
    assert [a.status for a in gone.closed] == ["resolved"] and not alerts[0].active
    again = follow(alerts, H, "310115", [conflict("A:1", "B:2")], listing, "e-4", LATER)
    assert again.raised[0].alert_id != alerts[0].alert_id  # raised a second time: a new alert


def test_an_alert_decided_then_given_new_evidence_goes_back_to_the_queue_and_rebuilds_the_same() -> None:
    decided = an_alert().decided("confirmed_duplicate", "recover", "reviewer-1", NOW)
    grown = conflict("DIBAO:1", "EXTREME:2", "EXTREME:3")
    requeued = decided.with_evidence(grown, listing(grown), LATER)
    assert (requeued.status, requeued.new_evidence, requeued.decided_by, requeued.updated_at) == ("open", True, "reviewer-1", LATER)
    assert requeued.benefit_ids == {"DIBAO:1", "EXTREME:2", "EXTREME:3"}
    # A rebuild replays the evidence first, then the decision, then the alert.updated that requeued it.
    replayed = an_alert().with_evidence(grown, listing(grown), LATER)
    assert replayed.status == "open" and not replayed.new_evidence  # nobody had decided yet
    rebuilt = replayed.restored("confirmed_duplicate", "recover", "reviewer-1", NOW).restored_requeue()
    assert (rebuilt.status, rebuilt.new_evidence) == ("open", True)


def test_evidence_that_only_shrinks_keeps_the_decision() -> None:
    decided = raised(H, conflict("A:1", "B:2", "C:3"), 0, None, listing(conflict("A:1", "B:2", "C:3")), "e", NOW).decided(
        "justified", "ok", "reviewer-1", NOW)
    smaller = decided.with_evidence(conflict("A:1", "B:2"), listing(conflict("A:1", "B:2")), LATER)
    assert (smaller.status, smaller.new_evidence) == ("justified", False)
