"""`make bench` reads each benchmark's figures: the common BENCH-RESULT line, and the printed
lines of the benchmarks written before it."""

from __future__ import annotations

from bench.results import PREFIX, Result, collect
from bench.run_all import read_intake_throughput, read_ledger_apply, read_ledger_latency


def test_a_result_line_round_trips_and_its_target_is_judged(capsys) -> None:  # type: ignore[no-untyped-def]
    from bench.results import emit

    emit("year, wall", 42.5, "s", target="< 60")
    emit("rate", 9000, "events/s", target=">= 10000", ceiling="kafka")
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith(PREFIX) for line in lines)
    wall, rate = collect(["noise", *lines])
    assert wall == Result("year, wall", 42.5, "s", "< 60", "") and wall.met() is True
    assert rate.met() is False and rate.ceiling == "kafka"
    assert Result("x", 1, "").met() is None


def test_the_older_benchmarks_printed_lines_are_read() -> None:
    context: dict[str, str] = {}
    intake = read_intake_throughput([
        "ceiling: produce + consume   200,000 in  10.00 s =    20,000 /s",
        "intake, first to last output  200,000 in  20.00 s =    10,000 /s   (sustained)",
    ], context)
    assert intake[0].value == 10_000 and intake[0].met() and context["intake_own_kafka"] == "20000"
    ledger = read_ledger_apply(["ledger apply [sqlite, in process, batch 10000, cache 50,000] 1,000,000 events / 200,000 households: "
                                "90.1 s, 11,099 events/s, 95 µs CPU per event -> sqlite:////tmp/x/ledger.db"], context)
    assert ledger[0].value == 11_099 and context["ledger_url_sqlite"] == "sqlite:////tmp/x/ledger.db"
    latency = read_ledger_latency([
        "pre-grant check over HTTP, 2000 requests on 200,000 households: p50 1.10 ms, p99 2.90 ms, mean 1.20 ms",
        "alert latency (department event into intake -> alert event out), 40 probes under 2000/s background load (1 sent): p50 119 ms, p99 175 ms, max 180 ms",
        "ledger resident memory at the end: 349 MB",
    ], context)
    assert [r.value for r in latency] == [2.9, 175, 349] and all(r.met() for r in latency)
