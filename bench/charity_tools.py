"""Shared by the charity benchmarks: start the service as its own process, seed approved
organisations with one offering each through its HTTP API, and make match proposals."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import httpx
from stdnum.cn import uscc

from bench.intake_throughput import wait_healthy
from contracts.envelope import utc_now
from contracts.hub import MatchProposedV2
from kit.settings import HubSettings
from kit.tansu import free_port

ROOT = Path(__file__).resolve().parent.parent
STAFF = {"X-API-Key": "dev-staff-key"}
DISTRICTS = ["310104", "310105", "310106", "310107", "310109", "310110", "310112", "310115"]


def start_charity(hub: HubSettings, database_url: str, work: Path, log_level: str = "WARNING", name: str = "charity") -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "HUB_KAFKA_BOOTSTRAP": hub.kafka_bootstrap,
        "HUB_KAFKA_IDEMPOTENCE": str(hub.kafka_idempotence).lower(), "HUB_TOPIC_NAMESPACE": hub.topic_namespace,
        "HUB_DATA_DIR": str(work), "HUB_LOG_FORMAT": "json", "HUB_LOG_LEVEL": log_level,
        "HUB_CHARITY_HTTP_PORT": str(port), "HUB_CHARITY_DATABASE_URL": database_url,
    }
    log = work / f"{name}.log"
    process = subprocess.Popen([sys.executable, "-m", "services.charity"], cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process, log)
    return process, url


def credit_code(n: int) -> str:
    body = f"91310104{n:09d}"
    return body + uscc.calc_check_digit(body)


def offering_body(n: int) -> dict[str, object]:
    today = date.today()
    return {
        "title": f"Food parcel batch {n}", "category": "food", "programme": "CHARITY_FOOD", "kind": "goods", "unit": "parcel",
        "quantity_total": 1_000, "value_fen_per_unit": 15_000, "service_area": {"districts": [DISTRICTS[n % len(DISTRICTS)]]},
        "valid_from": str(today - timedelta(days=1)), "valid_until": str(today + timedelta(days=90)),
    }


async def seed_organisations(url: str, count: int, concurrency: int = 16) -> list[tuple[str, str, str]]:
    """`count` approved organisations, each with one offering: (organisation id, key, offering id)."""
    limit = asyncio.Semaphore(concurrency)

    async def one(client: httpx.AsyncClient, n: int) -> tuple[str, str, str]:
        async with limit:
            registered = await client.post("/organisations", json={
                "name": f"Bench organisation {n}", "kind": "charity", "credit_code": credit_code(n),
                "districts": [DISTRICTS[n % len(DISTRICTS)]], "contact_name": "联系人", "contact_phone": "13800000000",
            })
            registered.raise_for_status()
            organisation_id, key = registered.json()["organisation"]["organisation_id"], registered.json()["key"]["api_key"]
            (await client.post(f"/organisations/{organisation_id}/approve", headers=STAFF)).raise_for_status()
            created = await client.post("/offerings", json=offering_body(n), headers={"X-API-Key": key})
            created.raise_for_status()
            return organisation_id, key, created.json()["offering_id"]

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return list(await asyncio.gather(*(one(client, n) for n in range(count))))


def proposals(organisations: list[tuple[str, str, str]], count: int, prefix: str = "bench") -> list[MatchProposedV2]:
    expires = utc_now() + timedelta(days=7)
    made = []
    for n in range(count):
        organisation_id, _, offering_id = organisations[n % len(organisations)]
        made.append(MatchProposedV2(source="matching", household_id=f"hh-{n % 50_000:06d}", data={
            "match_id": f"{prefix}-{n:07d}", "offering_id": offering_id, "charity_id": organisation_id, "need_id": f"need-{n:07d}",
            "category": "food", "district": DISTRICTS[n % len(DISTRICTS)], "subdistrict": None, "household_size": 1 + n % 5,
            "urgency": 1 + n % 5, "quantity": 1, "expires_at": expires,
        }))
    return made


def metric(url: str, name: str, outcome: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith(f'{name}{{outcome="{outcome}"}}'):
            return float(line.split()[-1])
    return 0.0
