"""A lean HTTP load generator for the benchmarks: clients spread over separate processes, each
speaking raw HTTP/1.1 on its own keep-alive connection (no HTTP library: httpx cost more CPU per
request than the service it measured, on the same two cores).

Each client sends one request after another, paced so that all of them together aim at `rate`
requests per second (0 = as fast as they can); latency runs from sending the request to the last
byte of the answer. A client whose turn comes while its previous request is still out sends as
soon as it returns (closed loop: a slow service lowers the rate reached, which is printed).

`measure(...)` takes a picklable `plan(client, turn) -> Request` so that every process builds
its own requests, and one or more base URLs: client n talks to `urls[n % len(urls)]` (several
instances of a service behind no balancer: each client keeps to one, as behind a sticky one).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from urllib.parse import urlsplit

import orjson


@dataclass(frozen=True)
class Request:
    operation: str
    method: str
    path: str
    key: str | None = None
    body: object = None


Plan = Callable[[int, int], Request]


@dataclass
class Load:
    """What the clients saw: latencies (s) and errors per operation, errors by kind, CPU."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    kinds: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: float = 0.0
    cpu: float = 0.0

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def add(self, other: Load) -> None:
        for operation, values in other.latencies.items():
            self.latencies[operation].extend(values)
        for operation, count in other.errors.items():
            self.errors[operation] += count
        for kind, count in other.kinds.items():
            self.kinds[kind] += count
        self.seconds = max(self.seconds, other.seconds)
        self.cpu += other.cpu


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: Request) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        body = b"" if request.body is None else orjson.dumps(request.body)
        head = f"{request.method} {request.path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if request.key:
            head += f"X-API-Key: {request.key}\r\n"
        if request.body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        try:
            return await self._answer()
        except BaseException:
            self.close()
            raise

    async def _answer(self) -> int:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readuntil(b"\r\n")
        if headers.get("connection") == "close":
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _client(urls: list[str], plan: Plan, n: int, interval: float, start_at: float, until: float, load: Load) -> None:
    address = urlsplit(urls[n % len(urls)])
    connection = Connection(address.hostname or "127.0.0.1", address.port or 80)
    turn = n  # clients start on different operations
    next_at = start_at + (interval * (n % 100) / 100 if interval else 0)
    try:
        while True:
            if interval:
                await asyncio.sleep(max(0.0, next_at - time.time()))
                next_at += interval
            started = time.perf_counter()
            if time.time() >= until:
                return
            request = plan(n, turn)
            turn += 1
            try:
                status = await connection.send(request)
                failure = str(status) if status >= 400 else None
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                failure = type(error).__name__
            load.latencies[request.operation].append(time.perf_counter() - started)
            if failure is not None:
                load.errors[request.operation] += 1
                load.kinds[failure] += 1
    finally:
        connection.close()


def _process(urls: list[str], plan: Plan, clients: list[int], interval: float, start_at: float, duration: float) -> Load:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    load = Load()
    cpu = time.process_time()

    begin = max(start_at, time.time())  # a process that started late still runs its full duration

    async def run() -> None:
        await asyncio.sleep(max(0.0, begin - time.time()))
        await asyncio.gather(*(_client(urls, plan, n, interval, begin, begin + duration, load) for n in clients))

    asyncio.run(run())
    load.seconds, load.cpu = time.time() - begin, time.process_time() - cpu
    return load


def measure(urls: list[str], plan: Plan, clients: int, duration: float, rate: float, processes: int = 0) -> Load:
    """`clients` clients over `processes` processes (0: one per core) for `duration` seconds."""
    processes = max(1, min(clients, processes or os.cpu_count() or 1))
    interval = clients / rate if rate else 0.0
    start_at = time.time() + 2.0 + 0.5 * processes  # the processes start first, then all begin together
    total = Load()
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        parts = [pool.submit(_process, urls, plan, list(range(p, clients, processes)), interval, start_at, duration) for p in range(processes)]
        for part in parts:
            total.add(part.result())
    return total


def health(_: int, __: int) -> Request:
    return Request("health", "GET", "/health")
