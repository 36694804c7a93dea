"""Staff page render times through HTTP, with the ledger filled at city size by bench.ledger_apply:
the dashboard (the last three months, as a person first sees it; the web front keeps each month's
figures for HUB_WEB_STATISTICS_SECONDS, so the first render after start is timed apart), the alert
queue (open alerts) and a household page, each p50/p99 over sequential requests from a signed-in session. The
ledger's own answers to the same questions are timed in the same run: the ceiling the pages sit on.

    python -m bench.ledger_apply --events 1000000 --households 200000 --database sqlite
    python -m bench.pages --url sqlite:////tmp/ledger-bench-XXXX/ledger-XXXX.db --households 200000

The ledger and the web front run as their own processes on an embedded broker; the web front's
accounts live in a fresh SQLite file.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.ledger_data import household_id
from bench.ledger_latency import percentile, resident_mb, start_ledger, wait_healthy
from bench.machine import describe, reference_seconds
from kit.database import make_engine
from kit.passwords import Lockout
from kit.settings import HubSettings
from kit.tansu import EmbeddedBroker, free_port
from services.web.access import Access
from services.web.accounts import Role

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench password 1"
STAFF = {"X-API-Key": "dev-staff-key"}


def start_web(hub: HubSettings, ledger_url: str, folder: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    port, database = free_port(), f"sqlite:///{folder / 'web.db'}"
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "HUB_KAFKA_BOOTSTRAP": hub.kafka_bootstrap, "HUB_KAFKA_IDEMPOTENCE": "false",
        "HUB_TOPIC_NAMESPACE": hub.topic_namespace, "HUB_DATA_DIR": str(folder), "HUB_WEB_HTTP_PORT": str(port),
        "HUB_WEB_DATABASE_URL": database, "HUB_WEB_LEDGER_URL": ledger_url, "HUB_WEB_INTAKE_URL": "http://127.0.0.1:9",
        # not run here: the dashboard's social section says so (asked again every 15 s), the ledger's figures are timed
        "HUB_WEB_CHARITY_URL": "http://127.0.0.1:9", "HUB_WEB_MATCHING_URL": "http://127.0.0.1:9",
        "HUB_LOG_FORMAT": "json", "HUB_LOG_LEVEL": "WARNING",
    }
    log = folder / "web.log"
    process = subprocess.Popen([sys.executable, "-m", "services.web"], cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process, log)
    return process, url, database


def signed_in(url: str, database: str) -> httpx.Client:
    engine = make_engine(database)
    access = Access(engine, Lockout(5, timedelta(minutes=15)), timedelta(hours=8))
    access.create_account(None, "bench", PASSWORD, Role.ADMINISTRATOR, None)
    engine.dispose()
    client = httpx.Client(base_url=url, timeout=60, follow_redirects=True)
    token = client.get("/sign-in").cookies["csrftoken"]
    response = client.post("/sign-in", data={"username": "bench", "password": PASSWORD, "csrftoken": token}, follow_redirects=False)
    if response.status_code != 303:
        raise SystemExit(f"sign-in failed: {response.status_code}")
    return client


def timed(get: Callable[[int], httpx.Response], requests: int, warm_up: int = 5) -> list[float]:
    for number in range(warm_up):
        get(number)
    timings = []
    for number in range(requests):
        started = time.perf_counter()
        response = get(number)
        timings.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{response.request.url} answered {response.status_code}: {response.text[:500]}")
    return timings


def report(name: str, timings: list[float], note: str = "") -> None:
    print(f"{name:<44} p50 {percentile(timings, 0.5) * 1000:7.1f} ms   p99 {percentile(timings, 0.99) * 1000:7.1f} ms   "
          f"mean {statistics.mean(timings) * 1000:7.1f} ms{note}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="A ledger database filled by bench.ledger_apply")
    parser.add_argument("--households", type=int, default=200_000, help="How many households that run had")
    parser.add_argument("--requests", type=int, default=200, help="Requests per page")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="pages-bench-"))
    rng = random.Random(5)
    households = [household_id(rng.randrange(args.households)) for _ in range(args.requests + 10)]
    now = datetime.now(UTC)
    first = f"{(now.replace(day=1) - timedelta(days=62)):%Y-%m}"
    print(describe(reference_seconds(), reference_seconds()), flush=True)
    with EmbeddedBroker() as broker:
        hub = HubSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False, topic_namespace="bench.")
        ledger_port = free_port()
        ledger = start_ledger(hub, args.url, ledger_port, folder / "ledger.log")
        ledger_url = f"http://127.0.0.1:{ledger_port}"
        web, web_url, database = start_web(hub, ledger_url, folder)
        try:
            with closing(signed_in(web_url, database)) as pages, httpx.Client(base_url=ledger_url, headers=STAFF, timeout=300) as api:
                started = time.perf_counter()
                board = pages.get("/dashboard", params={"export": "csv", "table": "benefits"})
                cold = time.perf_counter() - started
                if board.status_code != 200:
                    raise SystemExit(f"dashboard answered {board.status_code}: {board.text[:300]}")
                print(f"first dashboard after start (the ledger totals each month once): {cold * 1000:.0f} ms", flush=True)
                queue = api.get("/review/alerts", params={"status": "open", "limit": 1000}).json()
                print(f"ledger: {args.url}; dashboard rows {board.text.count(chr(10)) - 1}, "
                      f"open alerts {queue['count']}{'+' if queue['count'] == 1000 else ''} (the queue shows 100 a page)", flush=True)
                report("page  /dashboard (3 months, charts, alerts)", timed(lambda n: pages.get("/dashboard"), args.requests))
                report("page  /alerts (open, first page of 100)", timed(lambda n: pages.get("/alerts"), args.requests))
                report("page  /households/{id}", timed(lambda n: pages.get(f"/households/{households[n]}"), args.requests))
                print("the ledger's own answers to the same questions (the ceiling under each page):", flush=True)
                report("api   /stats/benefits (3 months; 10 requests)", timed(lambda n: api.get("/stats/benefits", params={"from": first, "to": f"{now:%Y-%m}"}), 10, warm_up=1))
                report("api   /review/alerts?status=open&limit=101", timed(lambda n: api.get("/review/alerts", params={"status": "open", "limit": 101}), args.requests))
                report("api   /review/households/{id}", timed(lambda n: api.get(f"/review/households/{households[n]}"), args.requests))
                report("web   /health (the floor: no ledger call)", timed(lambda n: pages.get("/health"), args.requests))
            print(f"resident memory: ledger {resident_mb(ledger.pid):.0f} MB, web {resident_mb(web.pid):.0f} MB", flush=True)
        finally:
            for process in (web, ledger):
                process.terminate()
                process.wait(timeout=60)


if __name__ == "__main__":
    main()
