"""`hub simulate`'s account: what the hub put out, against what was sent."""

from __future__ import annotations

import orjson

from contracts.topics import ALERTS, CANONICAL, IDENTITY_REVIEWS, REJECTIONS
from hub.simulate import Account, HubOutput
from hub.simulate_year import ACCEPTED, Overlap, plan_year
from services.intake.canonical import canonical_event_id

NAMES = {t.name: t.name for t in (CANONICAL, REJECTIONS, IDENTITY_REVIEWS, ALERTS)}


def rejection(rejection_id: str, original: str | None, *codes: str) -> bytes:
    return orjson.dumps({"event_id": rejection_id, "type": "event.rejected",
                         "data": {"original_event_id": original, "reasons": [{"code": c, "message": "-"} for c in codes]}})


def alert(alert_id: str, rule: str, *benefits: str) -> bytes:
    return orjson.dumps({"event_id": f"e-{alert_id}", "type": "alert.raised", "data": {
        "alert_id": alert_id, "rule_id": rule, "benefits": [{"benefit_id": b} for b in benefits]}})


def everything_right(year, out: HubOutput) -> None:  # type: ignore[no-untyped-def]
    for event in year.events:
        if event.resend:
            continue
        if event.expected == ACCEPTED:
            cid = canonical_event_id(event.department, event.event_id)
            out.take(CANONICAL.name, b"{}", {"event_id": cid.encode()}, NAMES)
        else:
            out.take(REJECTIONS.name, rejection(f"r-{event.event_id or id(event)}", event.event_id, event.expected), {}, NAMES)
    for n, overlap in enumerate(year.overlaps):
        out.take(ALERTS.name, alert(f"a{n}", overlap.rule_id, *overlap.benefit_ids), {}, NAMES)


def test_everything_out_as_expected_is_all_accounted_for() -> None:
    year = plan_year(300, seed=2)
    account, out = Account.of(year.events, year.overlaps, "s2"), HubOutput()
    everything_right(year, out)
    assert account.accounted(out) == account.total
    verdict = account.verdict(out)
    assert not verdict.problems
    assert verdict.canonical == len(account.accepted)
    assert sum(verdict.rejected.values()) == len(account.refused) + sum(account.unreadable.values())


def test_a_missing_event_a_wrong_reason_a_missed_overlap_and_a_stray_alert_are_each_problems() -> None:
    year = plan_year(400, seed=3)
    account, out = Account.of(year.events, year.overlaps, "s3"), HubOutput()
    everything_right(year, out)
    missing = next(e for e in year.events if e.expected == ACCEPTED and not e.resend)
    out.canonical.discard(canonical_event_id(missing.department, missing.event_id))
    refused = next(e for e in year.events if e.expected == "amount.negative")
    out.take(REJECTIONS.name, rejection("r-again", refused.event_id, "field.invalid"), {}, NAMES)
    out.rejections = {k: v for k, v in out.rejections.items() if not (v[0] == refused.event_id and k != "r-again")}
    out.alerts.pop("a0")
    out.take(ALERTS.name, alert("stray", "R-ONCE-FOOD-7D", "CA:s3-ca-b-1", "CA:s3-ca-b-2"), {}, NAMES)
    out.take(ALERTS.name, alert("not-ours", "R-ONCE-FOOD-7D", "CA:other-run-b-1"), {}, NAMES)
    verdict = account.verdict(out)
    assert verdict.unaccounted == [missing]
    assert verdict.wrong_reason == {"amount.negative -> field.invalid": 1}
    assert verdict.missed_overlaps == [year.overlaps[0]]
    assert verdict.unexplained_alerts == ["stray"]
    assert len(verdict.problems) == 4


def test_an_event_held_for_identity_review_is_accounted_for() -> None:
    year = plan_year(50, seed=4, overlap_share=0, invalid_share=0)
    account, out = Account.of(year.events, [], "s4"), HubOutput()
    everything_right(year, out)
    held = next(e for e in year.events if e.expected == ACCEPTED and not e.resend)
    out.canonical.discard(canonical_event_id(held.department, held.event_id))
    out.take(IDENTITY_REVIEWS.name, orjson.dumps({"event_id": "x", "data": {"original_event_id": held.event_id}}), {}, NAMES)
    verdict = account.verdict(out)
    assert verdict.held == 1 and not verdict.problems


def test_overlaps_are_matched_by_rule_and_both_grants() -> None:
    overlap = Overlap("R-EXCL-DIBAO-EXTREME", ("CA:s5-ca-b-1", "CA:s5-ca-b-2"))
    account, out = Account.of([], [overlap], "s5"), HubOutput()
    out.take(ALERTS.name, alert("other-rule", "R-ONCE-TEMPORARY-90D", *overlap.benefit_ids), {}, NAMES)
    assert account.verdict(out).missed_overlaps == [overlap]
    out.take(ALERTS.name, alert("right", "R-EXCL-DIBAO-EXTREME", "CA:s5-ca-b-2", "CA:s5-ca-b-1"), {}, NAMES)
    verdict = account.verdict(out)
    assert not verdict.missed_overlaps and verdict.unexplained_alerts == ["other-rule"]
