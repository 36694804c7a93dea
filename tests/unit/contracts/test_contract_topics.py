"""Topic names: unique, valid for Kafka, and a department topic leads back to its department."""

from __future__ import annotations

import re

import pytest

from contracts.catalogue import DEPARTMENTS
from contracts.topics import (
    DEPARTMENT_TOPIC_PREFIX,
    HOUSEHOLD_STATE,
    all_topics,
    department_of_topic,
    department_topic,
)

KAFKA_TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")


def test_names_are_unique() -> None:
    names = [topic.name for topic in all_topics()]
    assert len(names) == len(set(names))


def test_names_do_not_collide_in_kafka_metrics() -> None:
    # Kafka warns that '.' and '_' collide in metric names
    names = [topic.name.replace(".", "_") for topic in all_topics()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("topic", all_topics(), ids=lambda t: t.name)
def test_each_topic_is_well_formed(topic) -> None:
    assert KAFKA_TOPIC_NAME.fullmatch(topic.name)
    assert topic.name not in (".", "..")
    assert re.search(r"\.v\d+$", topic.name), "a topic name carries its contract version"
    assert topic.partitions >= 1
    assert topic.description


def test_only_household_state_is_compacted() -> None:
    assert [t.name for t in all_topics() if t.compacted] == [HOUSEHOLD_STATE.name]


@pytest.mark.parametrize("code", sorted(DEPARTMENTS))
def test_department_topic_round_trip(code: str) -> None:
    topic = department_topic(code)
    assert topic.name == f"{DEPARTMENT_TOPIC_PREFIX}{code.lower()}.events.v1"
    assert department_of_topic(topic.name) == code
    assert topic in all_topics()


def test_every_department_has_its_own_topic() -> None:
    department_topics = [t for t in all_topics() if t.name.startswith(DEPARTMENT_TOPIC_PREFIX)]
    assert {department_of_topic(t.name) for t in department_topics} == set(DEPARTMENTS)
    assert len(department_topics) == len(DEPARTMENTS)


@pytest.mark.parametrize(
    "name", ["hub.canonical.v1", "dept.ca.events.v2", "dept.CA.events.v1", "dept.nobody.events.v1", "", "dept."]
)
def test_other_names_belong_to_no_department(name: str) -> None:
    assert department_of_topic(name) is None


def test_contracts_doc_lists_every_event_and_topic() -> None:
    from pathlib import Path

    from contracts.department import DEPARTMENT_EVENTS
    from contracts.hub import HUB_EVENTS

    doc = (Path(__file__).resolve().parents[3] / "docs" / "contracts.md").read_text(encoding="utf-8")
    for model in [*DEPARTMENT_EVENTS.models(), *HUB_EVENTS.models()]:
        assert f"| `{model.TYPE}` | {model.VERSION} |" in doc, f"docs/contracts.md does not list {model.TYPE} v{model.VERSION}"
    for topic in all_topics():
        if not topic.name.startswith(DEPARTMENT_TOPIC_PREFIX):
            assert f"`{topic.name}`" in doc, f"docs/contracts.md does not name {topic.name}"
