"""One line a program can read, beside a benchmark's own printout: `BENCH-RESULT {json}`.

A benchmark calls `emit(...)` for each figure it wants in BENCHMARKS.md; `make bench`
(`bench.run_all`) collects these lines from its output. Benchmarks written before this existed
are read from their printed lines instead (see `bench.run_all`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

PREFIX = "BENCH-RESULT "
CEILING_PREFIX = "BENCH-CEILING "


@dataclass(frozen=True)
class Result:
    figure: str  # what was measured, e.g. "intake: department events in -> canonical out"
    value: float
    unit: str  # "events/s", "ms", "s", "MB", ""
    target: str = ""  # e.g. ">= 10000", "< 60"
    ceiling: str = ""  # the name of the ceiling it stands beside: "kafka", "sqlite", "postgresql", "kafka_round_trip"

    def met(self) -> bool | None:
        if not self.target:
            return None
        operator, _, number = self.target.partition(" ")
        bound = float(number.replace(",", ""))
        return {">=": self.value >= bound, ">": self.value > bound, "<": self.value < bound, "<=": self.value <= bound}[operator]


def emit(figure: str, value: float, unit: str, target: str = "", ceiling: str = "") -> None:
    print(PREFIX + json.dumps(asdict(Result(figure, float(value), unit, target, ceiling)), ensure_ascii=False), flush=True)


def collect(lines: Iterable[str]) -> list[Result]:
    return [Result(**json.loads(line[len(PREFIX):])) for line in lines if line.startswith(PREFIX)]


def emit_ceiling(name: str, value: float, unit: str, description: str) -> None:
    """A ceiling the benchmark measured itself (e.g. on its own bytes); results name it in `ceiling`."""
    record = {"name": name, "value": float(value), "unit": unit, "description": description}
    print(CEILING_PREFIX + json.dumps(record, ensure_ascii=False), flush=True)


def collect_ceilings(lines: Iterable[str]) -> list[dict[str, object]]:
    return [json.loads(line[len(CEILING_PREFIX):]) for line in lines if line.startswith(CEILING_PREFIX)]
