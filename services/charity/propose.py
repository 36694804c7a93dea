"""`python -m services.charity.propose OFFERING_ID`: publish one match.proposed for an offering,
as the matching service would, so that an organisation's inbox can be tried before matching runs
(README walk-through). It asks the charity service for the offering's organisation, and
publishes on hub.matches.v1 with the usual settings (HUB_KAFKA_BOOTSTRAP, HUB_TOPIC_NAMESPACE).
For development only: the household id is made up."""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

import httpx

from contracts.envelope import new_id, utc_now
from contracts.hub import MatchProposedV2
from contracts.topics import MATCHES
from kit.broker import event_headers, make_producer
from kit.settings import HubSettings

STAFF_KEY = "dev-staff-key"


async def propose(offering_id: str, charity_url: str, household_id: str, quantity: int, hours: int) -> MatchProposedV2:
    offering = httpx.get(f"{charity_url}/offerings/{offering_id}", headers={"X-API-Key": STAFF_KEY}, timeout=10)
    offering.raise_for_status()
    shown = offering.json()
    districts = shown["service_area"]["districts"] or ["310104"]
    event = MatchProposedV2(source="matching", household_id=household_id, data={
        "match_id": f"m-{new_id()[:12]}", "offering_id": offering_id, "charity_id": shown["organisation_id"],
        "need_id": f"need-{new_id()[:12]}", "category": shown["category"], "district": districts[0], "subdistrict": None,
        "household_size": 3, "urgency": 4, "quantity": quantity, "expires_at": utc_now() + timedelta(hours=hours),
    })
    hub = HubSettings()
    producer = make_producer(hub, "charity-propose", idempotence=False)
    await producer.start()
    try:
        headers = [(k, v.encode()) for k, v in event_headers(event).items()]
        await producer.send_and_wait(hub.topic_name(MATCHES), event.to_bytes(), key=household_id.encode(), headers=headers)
    finally:
        await producer.stop()
    return event


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("offering_id")
    parser.add_argument("--charity-url", default="http://127.0.0.1:8003")
    parser.add_argument("--household-id", default="hh-demo-0001")
    parser.add_argument("--quantity", type=int, default=1)
    parser.add_argument("--hours", type=int, default=48, help="deadline: hours from now")
    arguments = parser.parse_args()
    made = asyncio.run(propose(arguments.offering_id, arguments.charity_url, arguments.household_id, arguments.quantity, arguments.hours))
    print(made.data.match_id)
