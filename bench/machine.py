"""How fast this machine is at the moment: a fixed piece of pure-Python work, timed in CPU seconds.

On a shared virtual machine the same code runs much faster or slower from one minute to the next
(seen here on 2026-12-01: a fixed workload took 1.6 to 2.8 CPU seconds in five runs a minute
apart). The throughput benchmarks print this reference before and after their run, so that a
figure can be read against the machine's speed at the time: lower is faster.
"""

from __future__ import annotations

import hashlib
import time


def reference_seconds() -> float:
    started = time.process_time()
    digest = b"hub"
    for _ in range(300_000):
        digest = hashlib.sha256(digest).digest()
    total = 0
    for number in range(2_000_000):
        total += number
    return time.process_time() - started


def describe(before: float, after: float) -> str:
    return f"machine reference (fixed work, CPU s; lower is faster): {before:.2f} before, {after:.2f} after"
