"""The stacking policy file: the shipped one loads, and every mistake is named in one line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts.catalogue import PROGRAMMES
from services.ledger.policy import (
    DEFAULT_POLICY_PATH,
    AmountCapRule,
    CapPeriod,
    ExclusiveRule,
    OncePerPeriodRule,
    PolicyError,
    Scope,
    Severity,
    StackingPolicy,
    load_policy,
    parse_policy,
)

HEADER = 'version = "test.1"\neffective_from = 2026-01-01\n'

EXCLUSIVE = """
[[exclusive]]
id = "R-EXCL-A"
severity = "high"
scope = "person"
programmes = ["DIBAO", "EXTREME_POVERTY"]
description = "Dibao and extreme-poverty support exclude each other."
description_zh = "低保与特困供养不可兼得。"
"""

ONCE = """
[[once_per_period]]
id = "R-ONCE-A"
severity = "medium"
window_days = 90
programmes = ["TEMPORARY"]
description = "Temporary assistance once per 90 days."
description_zh = "临时救助90天内一次。"
"""

CAP = """
[[amount_cap]]
id = "R-CAP-A"
severity = "low"
period = "year"
cap_fen = 1_284_000
programmes = ["TEMPORARY", "CHARITY_MONEY"]
description = "Emergency cash capped per year."
description_zh = "应急现金年度封顶。"
"""


def write_policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> str:
    path = write_policy(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


# --- the shipped policy -----------------------------------------------------------------------


def test_shipped_policy_loads_from_beside_the_module() -> None:
    policy = load_policy()

    assert DEFAULT_POLICY_PATH.name == "policy.toml"
    assert DEFAULT_POLICY_PATH.parent.name == "ledger"
    assert policy == load_policy(DEFAULT_POLICY_PATH)
    assert policy.version == "2026.1"
    assert policy.effective_from == date(2026, 1, 1)


def test_shipped_policy_has_every_kind_of_rule_with_known_programmes() -> None:
    policy = load_policy()

    assert policy.exclusive and policy.once_per_period and policy.amount_cap
    for rule in policy.rules:
        assert set(rule.programmes) <= PROGRAMMES.keys()
        assert rule.description and rule.description_zh


def test_shipped_policy_carries_the_joint_meeting_rules() -> None:
    policy = load_policy()

    dibao_extreme = policy.rule("R-EXCL-DIBAO-EXTREME")
    assert isinstance(dibao_extreme, ExclusiveRule)
    assert dibao_extreme.scope is Scope.PERSON and dibao_extreme.severity is Severity.HIGH
    food = policy.rule("R-ONCE-FOOD-7D")
    assert isinstance(food, OncePerPeriodRule)
    assert set(food.programmes) == {"CHARITY_FOOD", "GRAIN_OIL"} and food.window_days == 7
    temporary = policy.rule("R-ONCE-TEMPORARY-90D")
    assert isinstance(temporary, OncePerPeriodRule) and temporary.window_days == 90
    yearly_cash = policy.rule("R-CAP-CASH-YEAR")
    assert isinstance(yearly_cash, AmountCapRule)
    assert yearly_cash.period is CapPeriod.YEAR and yearly_cash.cap_fen == 12 * 107_000


def test_unknown_rule_id_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        load_policy().rule("R-NOPE")


def test_a_minimal_policy_with_one_rule_of_each_kind_loads(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path, HEADER + EXCLUSIVE + ONCE + CAP))

    assert [rule.id for rule in policy.rules] == ["R-EXCL-A", "R-ONCE-A", "R-CAP-A"]
    assert policy.once_per_period[0].scope is Scope.HOUSEHOLD  # the default


def test_policy_and_rules_are_frozen() -> None:
    policy = load_policy()

    with pytest.raises(ValidationError):
        setattr(policy, "version", "other")
    with pytest.raises(ValidationError):
        setattr(policy.exclusive[0], "severity", Severity.LOW)


# --- every mistake, one clear line -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            HEADER + EXCLUSIVE.replace('"EXTREME_POVERTY"', '"EXTREME_POOR"'),
            "rule R-EXCL-A: programmes: unknown programme code 'EXTREME_POOR'",
            id="unknown-programme",
        ),
        pytest.param(
            HEADER + EXCLUSIVE.replace('["DIBAO", "EXTREME_POVERTY"]', '["DIBAO"]'),
            "rule R-EXCL-A: programmes: needs at least 2 programmes, got 1",
            id="exclusive-with-one-programme",
        ),
        pytest.param(
            HEADER + EXCLUSIVE.replace('"EXTREME_POVERTY"', '"DIBAO"'),
            "rule R-EXCL-A: programmes: programme 'DIBAO' is listed twice",
            id="programme-twice",
        ),
        pytest.param(
            HEADER + ONCE.replace("programmes = [\"TEMPORARY\"]", "programmes = []"),
            "rule R-ONCE-A: programmes: needs at least 1 programmes, got 0",
            id="once-with-no-programme",
        ),
        pytest.param(
            HEADER + ONCE.replace("window_days = 90", "window_days = 0"),
            "rule R-ONCE-A: window_days: Input should be greater than 0",
            id="zero-window",
        ),
        pytest.param(
            HEADER + ONCE.replace("window_days = 90", "window_days = -7"),
            "rule R-ONCE-A: window_days: Input should be greater than 0",
            id="negative-window",
        ),
        pytest.param(
            HEADER + ONCE.replace("window_days = 90", "window_days = 7.5"),
            "rule R-ONCE-A: window_days: Input should be a valid integer",
            id="fractional-window",
        ),
        pytest.param(
            HEADER + CAP.replace("cap_fen = 1_284_000", "cap_fen = 0"),
            "rule R-CAP-A: cap_fen: Input should be greater than 0",
            id="zero-cap",
        ),
        pytest.param(
            HEADER + CAP.replace("cap_fen = 1_284_000", "cap_fen = -100"),
            "rule R-CAP-A: cap_fen: Input should be greater than 0",
            id="negative-cap",
        ),
        pytest.param(
            HEADER + CAP.replace("cap_fen = 1_284_000", "cap_fen = true"),
            "rule R-CAP-A: cap_fen: Input should be a valid integer",
            id="boolean-cap",
        ),
        pytest.param(
            HEADER + CAP.replace('period = "year"', 'period = "week"'),
            "rule R-CAP-A: period: Input should be 'month' or 'year'",
            id="unknown-period",
        ),
        pytest.param(
            HEADER + EXCLUSIVE.replace('scope = "person"', 'scope = "street"'),
            "rule R-EXCL-A: scope: Input should be 'household' or 'person'",
            id="unknown-scope",
        ),
        pytest.param(
            HEADER + EXCLUSIVE.replace('scope = "person"\n', ""),
            "rule R-EXCL-A: scope: Field required",
            id="missing-scope",
        ),
        pytest.param(
            HEADER + EXCLUSIVE.replace('severity = "high"', 'severity = "urgent"'),
            "rule R-EXCL-A: severity: Input should be 'high', 'medium' or 'low'",
            id="unknown-severity",
        ),
        pytest.param(
            HEADER + ONCE.replace("window_days = 90", "window_day = 90"),
            "rule R-ONCE-A: window_day: Extra inputs are not permitted",
            id="misspelt-key",
        ),
        pytest.param(
            HEADER + EXCLUSIVE.replace('description_zh = "低保与特困供养不可兼得。"\n', ""),
            "rule R-EXCL-A: description_zh: Field required",
            id="missing-chinese-description",
        ),
        pytest.param(
            HEADER + EXCLUSIVE.replace('id = "R-EXCL-A"', 'id = "excl a"'),
            "rule excl a: id: String should match pattern",
            id="malformed-id",
        ),
        pytest.param(
            HEADER + EXCLUSIVE.replace('id = "R-EXCL-A"\n', ""),
            "rule exclusive #1: id: Field required",
            id="missing-id",
        ),
        pytest.param(
            HEADER + EXCLUSIVE + ONCE.replace("R-ONCE-A", "R-EXCL-A"),
            "rule R-EXCL-A: duplicate rule id",
            id="duplicate-id-across-kinds",
        ),
        pytest.param(
            HEADER + EXCLUSIVE + EXCLUSIVE,
            "rule R-EXCL-A: duplicate rule id",
            id="duplicate-id-same-kind",
        ),
        pytest.param(
            'effective_from = 2026-01-01\n' + EXCLUSIVE,
            "version: Field required",
            id="missing-version",
        ),
        pytest.param(
            'version = "test.1"\neffective_from = "soon"\n' + EXCLUSIVE,
            "effective_from: Input should be a valid date",
            id="bad-effective-from",
        ),
        pytest.param(
            HEADER + EXCLUSIVE.replace("[[exclusive]]", "[[exclusiv]]"),
            "exclusiv: Extra inputs are not permitted",
            id="unknown-rule-kind",
        ),
        pytest.param(
            HEADER + 'exclusive = "DIBAO"\n',
            "exclusive must be written as [[exclusive]] tables",
            id="rules-not-tables",
        ),
        pytest.param(
            HEADER + "[[exclusive]\nid = 1\n",
            "not valid TOML",
            id="bad-toml",
        ),
    ],
)
def test_every_mistake_is_one_line_naming_file_rule_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in load_error(tmp_path, text)


def test_several_problems_in_one_rule_are_counted_not_listed(tmp_path: Path) -> None:
    two_mistakes = ONCE.replace("window_days = 90", "window_days = 0").replace('severity = "medium"', 'severity = "x"')
    text = HEADER + two_mistakes

    message = load_error(tmp_path, text)

    assert message.endswith("(and 1 more)")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    with pytest.raises(PolicyError, match="absent.toml: cannot read the policy file"):
        load_policy(path)


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(HEADER.encode() + b'# \xff\xfe\n')

    with pytest.raises(PolicyError, match="not UTF-8"):
        load_policy(path)


def test_parse_policy_names_its_source() -> None:
    with pytest.raises(PolicyError, match=r"^inline: version: Field required$"):
        parse_policy({"effective_from": date(2026, 1, 1)}, source="inline")


def test_the_model_alone_refuses_duplicate_ids() -> None:
    rule = ExclusiveRule(
        id="R-EXCL-A",
        severity=Severity.HIGH,
        scope=Scope.PERSON,
        programmes=("DIBAO", "EXTREME_POVERTY"),
        description="x",
        description_zh="x",
    )

    with pytest.raises(ValidationError, match="duplicate rule id 'R-EXCL-A'"):
        StackingPolicy(version="1", effective_from=date(2026, 1, 1), exclusive=(rule, rule))


def test_the_rules_at_stake_are_those_the_programmes_held_could_break_in_policy_order() -> None:
    policy = load_policy()
    held = frozenset({"DIBAO", "MEDICAL"})
    at_stake = policy.rules_at_stake(held)
    # An exclusive rule needs two of its programmes held; any other rule one.
    assert at_stake == tuple(rule for rule in policy.rules
                             if len(held & set(rule.programmes)) >= (2 if isinstance(rule, ExclusiveRule) else 1))
    assert at_stake and not any(isinstance(rule, ExclusiveRule) for rule in at_stake)
    assert any(isinstance(rule, ExclusiveRule) for rule in policy.rules_at_stake(frozenset({"DIBAO", "EXTREME_POVERTY"})))
    assert policy.rules_at_stake(frozenset()) == ()
    assert policy.rules_at_stake(frozenset({"DIBAO", "MEDICAL"})) is at_stake  # remembered, not recomputed
