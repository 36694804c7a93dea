"""The ledger's monthly statistics, kept by the web front for a few minutes.

At city size the ledger takes seconds to total a month (3 to 5 s a month on SQLite with 480,000
benefits, measured by bench/pages.py's run), and a month's figures change slowly, so the dashboard
reads them from here: each month fetched once per `ttl` seconds, concurrent requests for a month
share one fetch, and the dashboard's default months are fetched in the background before anyone
asks. The page says how old the figures are."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kit.logs import get_logger
from services.web.upstream import Upstream, UpstreamDown, UpstreamRefused

log = get_logger(__name__)
STATISTICS_TIMEOUT = 120.0  # seconds: a month's totals at city size take seconds, more on a busy machine


@dataclass
class MonthFigures:
    rows: list[dict[str, Any]]
    fetched_at: datetime
    fetched: float  # monotonic


@dataclass
class StatisticsCache:
    ledger: Upstream
    ttl: float
    clock: Callable[[], float] = time.monotonic
    months: dict[str, MonthFigures] = field(default_factory=dict)
    _pending: dict[str, asyncio.Task[MonthFigures]] = field(default_factory=dict)

    async def benefits(self, months: list[str]) -> tuple[list[dict[str, Any]], datetime | None]:
        """Every row of these months, and when the oldest of them was fetched."""
        figures = await asyncio.gather(*(self.month(m) for m in months))
        rows = [row for f in figures for row in f.rows]
        return rows, min((f.fetched_at for f in figures), default=None)

    async def month(self, month: str, max_age: float | None = None) -> MonthFigures:
        known = self.months.get(month)
        if known is not None and self.clock() - known.fetched < (self.ttl if max_age is None else max_age):
            return known
        task = self._pending.get(month)
        if task is None:
            task = asyncio.create_task(self._fetch(month))
            self._pending[month] = task
            task.add_done_callback(lambda _: self._pending.pop(month, None))
        return await asyncio.shield(task)

    async def _fetch(self, month: str) -> MonthFigures:
        answer = await self.ledger.get("/stats/benefits", "", {"from": month, "to": month}, timeout=STATISTICS_TIMEOUT)
        figures = MonthFigures(answer["rows"], datetime.now(UTC), self.clock())
        self.months[month] = figures
        return figures


@dataclass
class OpenAlertSummary:
    """Every open alert (up to `most`), read from the ledger page by page once per `ttl` seconds,
    for the dashboard's counts by age and rule: at city size a list of 1,000 alerts takes the
    ledger 0.2 s to answer, too slow to ask on every dashboard. Read without a person: the ledger
    audits it as the web front's own listing."""

    ledger: Upstream
    ttl: float
    most: int = 20_000
    clock: Callable[[], float] = time.monotonic
    alerts: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = True
    fetched_at: datetime | None = None
    fetched: float | None = None
    _pending: asyncio.Task[None] | None = None

    async def current(self, max_age: float | None = None) -> tuple[list[dict[str, Any]], datetime | None, bool]:
        age = None if self.fetched is None else self.clock() - self.fetched
        if age is None or age >= (self.ttl if max_age is None else max_age):
            if self._pending is None or self._pending.done():
                self._pending = asyncio.create_task(self._fetch())
            await asyncio.shield(self._pending)
        return self.alerts, self.fetched_at, self.complete

    async def _fetch(self) -> None:
        alerts: list[dict[str, Any]] = []
        page = 1000
        while len(alerts) < self.most:
            answer = await self.ledger.get("/review/alerts", "", {"status": "open", "limit": page, "offset": len(alerts)},
                                           timeout=STATISTICS_TIMEOUT)
            alerts.extend(answer["alerts"])
            if answer["count"] < page:
                break
        self.alerts, self.complete = alerts[: self.most], len(alerts) < self.most
        self.fetched_at, self.fetched = datetime.now(UTC), self.clock()


@dataclass
class KeptAnswer:
    answer: Any
    fetched_at: datetime
    fetched: float


@dataclass
class KeptReport:
    """One report of another service for the dashboard (the charity's social forces, matching's
    unmet needs), per set of parameters: fetched once per `ttl` seconds and shared by concurrent
    requests. A service that does not answer is asked again only after `retry` seconds, so the
    dashboard renders at once without it (the figures kept before, if any, with their time; else
    the page says the service is not answering). Read without a person, like the other figures."""

    upstream: Upstream
    path: str
    ttl: float
    retry: float = 15.0
    clock: Callable[[], float] = time.monotonic
    kept: dict[tuple[tuple[str, str], ...], KeptAnswer] = field(default_factory=dict)
    failed: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)
    _pending: dict[tuple[tuple[str, str], ...], asyncio.Task[None]] = field(default_factory=dict)

    async def current(self, params: dict[str, str]) -> tuple[Any | None, datetime | None]:
        key = tuple(sorted(params.items()))
        now, known, failed = self.clock(), self.kept.get(key), self.failed.get(key)
        fresh = known is not None and now - known.fetched < self.ttl
        if not fresh and (failed is None or now - failed >= self.retry):
            task = self._pending.get(key)
            if task is None:
                task = asyncio.create_task(self._fetch(key, params))
                self._pending[key] = task
                task.add_done_callback(lambda _: self._pending.pop(key, None))
            await asyncio.shield(task)
        known = self.kept.get(key)
        return (known.answer, known.fetched_at) if known else (None, None)

    async def _fetch(self, key: tuple[tuple[str, str], ...], params: dict[str, str]) -> None:
        try:
            answer = await self.upstream.get(self.path, "", params, timeout=STATISTICS_TIMEOUT)
        except (UpstreamDown, UpstreamRefused) as error:
            log.info("report not read", service=self.upstream.name, path=self.path, error=type(error).__name__)
            self.failed[key] = self.clock()
            return
        self.failed.pop(key, None)
        if len(self.kept) > 64:  # month ranges people asked for: keep the cache small
            self.kept.clear()
        self.kept[key] = KeptAnswer(answer, datetime.now(UTC), self.clock())


@dataclass
class DashboardFigures:
    statistics: StatisticsCache
    open_alerts: OpenAlertSummary
    social: KeptReport | None = None  # the charity's /stats/social-forces
    unmet: KeptReport | None = None  # matching's /reports/unmet-needs


async def keep_fresh(figures: DashboardFigures, default_months: Callable[[], list[str]]) -> None:
    """Read the dashboard's default figures before they are stale, for as long as the service runs."""
    statistics, alerts = figures.statistics, figures.open_alerts
    while True:
        try:
            await alerts.current(max_age=alerts.ttl / 2)
            for month in default_months():
                await statistics.month(month, max_age=statistics.ttl / 2)
        except (UpstreamDown, UpstreamRefused) as error:
            log.info("dashboard figures not refreshed", error=type(error).__name__)
        await asyncio.sleep(min(alerts.ttl / 4, statistics.ttl / 4, 15))
