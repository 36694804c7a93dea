"""/health's view of consumers (kit.watch.ConsumerWatch): one without partitions for longer than
the stall time, or not running, is reported with the reason; one with partitions is fine."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from kit.watch import ConsumerWatch


@dataclass
class Consumer:
    partitions: set[str] = field(default_factory=set)

    def assignment(self) -> frozenset[str]:
        return frozenset(self.partitions)


@dataclass
class Subscriber:
    group_id: str | None
    consumer: Consumer | None
    running: bool = True
    topic_names: tuple[str, ...] = ("hub.canonical.v1",)


def test_a_consumer_without_partitions_past_the_stall_time_is_reported() -> None:
    watch = ConsumerWatch(stall_seconds=0.05)
    idle = Subscriber("ledger", Consumer())
    busy = Subscriber("ledger-other", Consumer({"hub.canonical.v1/0"}))
    presence = Subscriber(None, Consumer())  # reads every partition, no group: never reported
    assert watch.problems([idle, busy, presence]) == []  # within the stall time: joining its group
    time.sleep(0.06)
    problems = watch.problems([idle, busy, presence])
    assert len(problems) == 1 and "consumer ledger (hub.canonical.v1) has had no partitions" in problems[0]
    idle.consumer.partitions.add("hub.canonical.v1/1")
    assert watch.problems([idle, busy, presence]) == []


def test_a_consumer_that_is_not_running_is_reported_at_once() -> None:
    watch = ConsumerWatch(stall_seconds=60)
    assert watch.problems([Subscriber("intake", None)]) == ["consumer intake (hub.canonical.v1) is not running"]
    assert watch.problems([Subscriber("intake", Consumer({"p"}), running=False)]) == ["consumer intake (hub.canonical.v1) is not running"]
