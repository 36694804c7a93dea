"""The one registry of topic names. A name carries its contract version: a breaking change to
what a topic holds is a new topic, so old consumers keep reading the old one."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.catalogue import DEPARTMENTS


@dataclass(frozen=True)
class Topic:
    name: str
    description: str
    compacted: bool = False
    partitions: int = 6


CANONICAL = Topic("hub.canonical.v1", "Accepted department events, pseudonymised, keyed by hub household id")
REJECTIONS = Topic("hub.rejections.v1", "Events that could not be accepted, with reason codes")
IDENTITY_REVIEWS = Topic("hub.identity-reviews.v1", "Records waiting for staff to confirm who they are about")
DATA_QUALITY = Topic(
    "hub.data-quality.v1", "Accepted or held records with a flaw the department should correct, keyed by department"
)
OFFERINGS = Topic("hub.offerings.v1", "Charity and corporate offerings, keyed by offering id")
MATCHES = Topic("hub.matches.v1", "Match proposals and their outcomes, keyed by household id")
ALERTS = Topic("hub.alerts.v1", "Duplicate-service alerts raised and decided, keyed by household id")
HOUSEHOLD_STATE = Topic(
    "hub.household-state.v1", "Each household's current programmes, open needs and colour", compacted=True
)
SERVICE_PRESENCE = Topic("hub.service-presence.v1", "Services announcing themselves at start", partitions=1)

DEPARTMENT_TOPIC_PREFIX = "dept."


def department_topic(department: str) -> Topic:
    """The topic a department publishes to; only that department may write to it."""
    return Topic(f"{DEPARTMENT_TOPIC_PREFIX}{department.lower()}.events.v1", f"Events from department {department}")


def department_of_topic(topic_name: str) -> str | None:
    for code in DEPARTMENTS:
        if department_topic(code).name == topic_name:
            return code
    return None


def all_topics() -> list[Topic]:
    fixed = [CANONICAL, REJECTIONS, IDENTITY_REVIEWS, DATA_QUALITY, OFFERINGS, MATCHES, ALERTS, HOUSEHOLD_STATE, SERVICE_PRESENCE]
    return fixed + [department_topic(code) for code in DEPARTMENTS]
