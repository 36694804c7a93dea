"""`make bench`: every benchmark under bench/ in one run, on one broker and one machine, each
figure beside the raw ceiling measured in the same run, written to BENCHMARKS.md.

    python -m bench.run_all                  # full scale (the figures of record; about an hour here)
    python -m bench.run_all --scale reduced  # a few thousand events each: proves the run works

To add a benchmark, add one `Benchmark` to BENCHMARKS below: its module, its arguments at both
scales, and how to read its figures (nothing to write if it prints `bench.results.emit` lines).
A module that does not exist (yet) is skipped with a note.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.ceilings import measure
from bench.intake_events import mixed_stream
from bench.machine import describe, reference_seconds
from bench.results import Result, collect, collect_ceilings
from kit.tansu import EmbeddedBroker

ROOT = Path(__file__).resolve().parent.parent
Context = dict[str, str]  # what earlier benchmarks printed that later ones need (e.g. a database URL)
Reader = Callable[[list[str], Context], list[Result]]


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def read_intake_throughput(lines: list[str], context: Context) -> list[Result]:
    results = []
    for line in lines:
        if m := re.search(r"intake, first to last output\s+[\d,]+ in\s+[\d.]+ s =\s+([\d,]+) /s", line):
            results.append(Result("intake: department events in -> canonical and rejections out (sustained)",
                                  _number(m[1]), "events/s", ">= 10000", "intake_own_kafka"))
        elif m := re.search(r"ceiling: produce \+ consume\s+[\d,]+ in\s+[\d.]+ s =\s+([\d,]+) /s", line):
            context["intake_own_kafka"] = m[1].replace(",", "")
    return results


def read_ledger_apply(lines: list[str], context: Context) -> list[Result]:
    results = []
    for line in lines:
        if m := re.search(r"ledger apply \[(\w+)[^\]]*\] ([\d,]+) events / ([\d,]+) households: [\d.]+ s, ([\d,]+) events/s.* -> (\S+)$", line):
            kind = m[1]
            context[f"ledger_url_{kind}"] = m[5]
            context[f"ledger_households_{kind}"] = m[3].replace(",", "")
            results.append(Result(f"ledger: canonical events applied in process ({kind}, {m[2]} events)", _number(m[4]),
                                  "events/s", ">= 10000", kind))
    return results


def read_ledger_latency(lines: list[str], context: Context) -> list[Result]:
    results = []
    for line in lines:
        if m := re.search(r"pre-grant check over HTTP.*p99 ([\d.]+) ms", line):
            results.append(Result("ledger: pre-grant check over HTTP, p99", _number(m[1]), "ms", "< 10"))
        elif m := re.search(r"alert latency \(department event into intake.*p99 ([\d.]+) ms", line):
            results.append(Result("alert latency, department event into intake -> alert out, p99", _number(m[1]), "ms", "< 500", "kafka_round_trip"))
        elif m := re.search(r"alert latency \(canonical event in.*p99 ([\d.]+) ms", line):
            results.append(Result("alert latency, canonical event in -> alert out (ledger only), p99", _number(m[1]), "ms", "", "kafka_round_trip"))
        elif m := re.search(r"ledger resident memory at the end: ([\d.]+) MB", line):
            results.append(Result("ledger resident memory at the end", _number(m[1]), "MB", "< 1024"))
    return results


@dataclass(frozen=True)
class Benchmark:
    name: str
    module: str
    full: list[str] | Callable[[Context], list[str]]
    reduced: list[str] | Callable[[Context], list[str]]
    read: Reader | None = None  # None: the module prints `bench.results.emit` lines
    note: str = ""

    def arguments(self, scale: str, context: Context) -> list[str]:
        chosen = self.full if scale == "full" else self.reduced
        return chosen(context) if callable(chosen) else list(chosen)


def _latency_args(households_default: int, requests: str, probes: str, rate: str) -> Callable[[Context], list[str]]:
    def arguments(context: Context) -> list[str]:
        url = context.get("ledger_url_sqlite")
        if url is None:
            raise LookupError("needs the database ledger_apply (sqlite) filled: it did not run")
        households = context.get("ledger_households_sqlite", str(households_default))
        return ["--url", url, "--households", households, "--requests", requests, "--probes", probes, "--rate", rate]

    return arguments


# The one list of benchmarks `make bench` runs, in order (later ones may use what earlier ones printed).
BENCHMARKS: list[Benchmark] = [
    Benchmark("intake throughput", "bench.intake_throughput", ["--events", "200000", "--instances", "2"],
              ["--events", "5000"], read_intake_throughput),
    Benchmark("ledger apply, SQLite", "bench.ledger_apply", ["--events", "1000000", "--households", "200000", "--database", "sqlite"],
              ["--events", "5000", "--households", "1000", "--database", "sqlite"], read_ledger_apply),
    Benchmark("ledger apply, PostgreSQL", "bench.ledger_apply", ["--events", "1000000", "--households", "200000", "--database", "postgresql"],
              ["--events", "5000", "--households", "1000", "--database", "postgresql"], read_ledger_apply),
    Benchmark("ledger latency", "bench.ledger_latency", _latency_args(200_000, "2000", "40", "2000"),
              _latency_args(1000, "200", "10", "500"),
              read_ledger_latency, note="starts its own embedded broker"),
    # 2,000 persons (4,700 records) at both scales: at 20,000 the benchmark polls its outputs by reading
    # every topic from the start each second, and ran past its 600 s timeout (2026-12-03).
    Benchmark("identity quality", "bench.identity_quality", ["--persons", "2000", "--seed", "7"], ["--persons", "2000", "--seed", "7"]),
    Benchmark("a Shanghai year through intake and the ledger", "bench.year", ["--households", "200000"], ["--households", "1000"]),
    # Charity and matching emit their figures (bench.results); charity with ceilings it measures in the same run.
    Benchmark("charity inbox intake", "bench.charity_intake", ["--events", "100000", "--organisations", "2000"],
              ["--events", "2000", "--organisations", "100"]),
    Benchmark("charity HTTP load, SQLite", "bench.charity_load", ["--clients", "100", "--duration", "60", "--rate", "500"],
              ["--clients", "10", "--duration", "10", "--rate", "50"]),
    Benchmark("charity HTTP load, SQLite, two processes", "bench.charity_load", ["--clients", "100", "--duration", "60", "--rate", "500", "--instances", "2"],
              ["--clients", "10", "--duration", "10", "--rate", "50", "--instances", "2"]),
    Benchmark("charity HTTP load, PostgreSQL", "bench.charity_load", ["--clients", "100", "--duration", "60", "--rate", "500", "--database", "postgresql"],
              ["--clients", "10", "--duration", "10", "--rate", "50", "--database", "postgresql"]),
    Benchmark("matching round at city scale", "bench.matching_round", [], ["--needs", "2000", "--offerings", "200", "--units", "1200"]),
    Benchmark("matching under new needs", "bench.matching_incremental", [],
              ["--needs", "2000", "--offerings", "200", "--units", "1200", "--new", "50", "--rate", "20"]),
    Benchmark("matching end to end", "bench.matching_end_to_end", [], ["--households", "50", "--needs", "50", "--rate", "10"]),
]


@dataclass
class Outcome:
    benchmark: Benchmark
    command: str
    results: list[Result] = field(default_factory=list)
    skipped: str = ""
    seconds: float = 0.0
    exit_code: int = 0


def run_one(benchmark: Benchmark, scale: str, context: Context, env: dict[str, str]) -> Outcome:
    if importlib.util.find_spec(benchmark.module) is None:
        return Outcome(benchmark, "", skipped=f"no module {benchmark.module} (yet)")
    try:
        arguments = benchmark.arguments(scale, context)
    except LookupError as error:
        return Outcome(benchmark, "", skipped=str(error))
    command = [sys.executable, "-m", benchmark.module, *arguments]
    shown = f".venv/bin/python -m {benchmark.module} {shlex.join(arguments)}"
    print(f"\n=== {benchmark.name}: {shown}", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line.rstrip("\n"))
    code = process.wait()
    results = collect(lines) + (benchmark.read(lines, context) if benchmark.read else [])
    for ceiling in collect_ceilings(lines):
        context[f"ceiling:{ceiling['name']}"] = f"{ceiling['value']}|{ceiling['unit']}|{ceiling['description']}"
    return Outcome(benchmark, shown, results, seconds=time.perf_counter() - started, exit_code=code)


def machine_description() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    memory = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores ({model}), {memory:,} MB memory, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; load average at the start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")


CEILING_NAMES = {
    "kafka": "aiokafka produce + consume of intake-shaped events",
    "kafka_round_trip": "one record produced and read back (p99)",
    "sqlite": "SQLite executemany into ledger_event, one transaction",
    "postgresql": "PostgreSQL binary COPY into ledger_event, one transaction",
    "intake_own_kafka": "aiokafka produce + consume of the same bytes (measured by the intake benchmark)",
}


def ceiling_values(ceilings: dict[str, dict[str, float]], context: Context) -> dict[str, tuple[float, str]]:
    values = {"kafka": (ceilings["kafka"]["produce_consume_per_second"], "records/s"),
              "kafka_round_trip": (ceilings["kafka_round_trip"]["p99_ms"], "ms"),
              "sqlite": (ceilings["sqlite"]["rows_per_second"], "rows/s")}
    if "postgresql" in ceilings:
        values["postgresql"] = (ceilings["postgresql"]["rows_per_second"], "rows/s")
    if "intake_own_kafka" in context:
        values["intake_own_kafka"] = (float(context["intake_own_kafka"]), "records/s")
    for key, text in context.items():
        if key.startswith("ceiling:"):
            value, unit, description = text.split("|", 2)
            values[key.split(":", 1)[1]] = (float(value), unit)
            CEILING_NAMES.setdefault(key.split(":", 1)[1], description)
    return values


def _format(value: float, unit: str) -> str:
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.4g}"
    return f"{text} {unit}".strip()


def write_report(path: Path, scale: str, outcomes: list[Outcome], ceilings: dict[str, tuple[float, str]], machine: str,
                 references: tuple[float, float], started: datetime, seconds: float, label: str) -> None:
    lines = ["# Benchmarks", ""]
    if label:
        lines += [f"> **{label}**", ""]
    lines += [
        f"Last run: {started:%Y-%m-%d %H:%M} UTC, `make bench{' BENCH_SCALE=reduced' if scale == 'reduced' else ''}` "
        f"(`python -m bench.run_all --scale {scale}`), {seconds / 60:.1f} minutes.", "",
        f"Machine: {machine}. {describe(*references)}.", "",
        "One embedded broker (Tansu) for every benchmark that takes `HUB_KAFKA_BOOTSTRAP`; the ceilings below were "
        "measured on it, in this run, before the benchmarks.", "",
        "## Ceilings (same run)", "", "| ceiling | value |", "|---|---|",
    ]
    lines += [f"| {CEILING_NAMES.get(name, name)} | {_format(value, unit)} |" for name, (value, unit) in ceilings.items()]
    lines += ["", "## Figures", "", "| benchmark | figure | value | ceiling | ratio | target | met |", "|---|---|---|---|---|---|---|"]
    for outcome in outcomes:
        if outcome.skipped:
            continue
        if not outcome.results and outcome.exit_code:
            lines.append(f"| {outcome.benchmark.name} | failed (exit code {outcome.exit_code}): see its output | | | | | **no** |")
        elif not outcome.results:
            lines.append(f"| {outcome.benchmark.name} | ran; its figures are in its output, none read into this table | | | | | — |")
        for result in outcome.results:
            ceiling = ceilings.get(result.ceiling)
            ratio = ""
            if ceiling and ceiling[0]:
                ratio = f"{result.value / ceiling[0]:.2f}" if result.unit != "ms" else f"{ceiling[0] / result.value:.2f}"
            met = result.met()
            lines.append(
                f"| {outcome.benchmark.name} | {result.figure} | {_format(result.value, result.unit)} | "
                f"{_format(*ceiling) if ceiling else '—'} | {ratio or '—'} | {result.target or '—'} | "
                f"{'—' if met is None else ('yes' if met else '**no**')} |"
            )
    lines += ["", "Ratio: the figure over its ceiling (for latencies, the ceiling over the figure: 1 would be the broker's own round trip).", ""]
    skipped = [o for o in outcomes if o.skipped]
    if skipped:
        lines += ["Skipped: " + "; ".join(f"{o.benchmark.name} ({o.skipped})" for o in skipped) + ".", ""]
    lines += ["## Commands", ""] + [f"- {o.benchmark.name}: `{o.command}` ({o.seconds:.0f} s, exit code {o.exit_code})"
                                     + (f"; {o.benchmark.note}" if o.benchmark.note else "") for o in outcomes if o.command]
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["full", "reduced"], default=os.environ.get("BENCH_SCALE", "full"))
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--label", default="", help="A line at the top of the report, e.g. why it is not the run of record")
    parser.add_argument("--only", nargs="*", help="Names (or parts of names) of the benchmarks to run")
    args = parser.parse_args()
    started, clock = datetime.now(UTC), time.perf_counter()
    machine = machine_description()
    print(f"machine: {machine}", flush=True)
    before = reference_seconds()
    ceiling_events = 200_000 if args.scale == "full" else 5000
    with EmbeddedBroker() as broker:
        records = [(s.ref.encode() or None, s.value) for s in mixed_stream(ceiling_events, seed=1)]
        measured = measure(broker.bootstrap, records, 100_000 if args.scale == "full" else 5000)
        print(f"ceilings: {measured}", flush=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HUB_KAFKA_BOOTSTRAP": broker.bootstrap, "HUB_KAFKA_IDEMPOTENCE": "false"}
        context: Context = {}
        chosen = [b for b in BENCHMARKS if not args.only or any(part in b.name for part in args.only)]
        outcomes = [run_one(benchmark, args.scale, context, env) for benchmark in chosen]
    after = reference_seconds()
    write_report(args.output, args.scale, outcomes, ceiling_values(measured, context), machine, (before, after), started,
                 time.perf_counter() - clock, args.label)
    print(f"\nwritten: {args.output}")
    return 1 if any(o.exit_code for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
