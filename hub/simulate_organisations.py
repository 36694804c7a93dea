"""The charity stage of `hub simulate`: the plan's organisations acting as their own systems would,
over the charity service's HTTP API (register, staff approve, a key of their own, offerings), then
answering the proposals matching makes, read from their inboxes; at the end the ledger is asked
whether each delivery became a charity benefit of its household, and matching for its unmet needs.

Register and publish are not safe to repeat (a second offering, a credit code taken), so they are
done once, before anything is disrupted; answering reads the match's state again after any
doubt (a 409, a service that did not answer), so it may be repeated at will.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from hub.simulate_charity import CharityPlan, CharityTally, MatchLog, OfferingPlan, OrganisationPlan, answer

OPEN_STATES = ("requested", "accepted", "in-progress")
STEP = {("requested", "decline"): "decline", ("requested", "deliver"): "accept", ("requested", "fail"): "accept",
        ("accepted", "deliver"): "fulfil", ("accepted", "fail"): "fail", ("in-progress", "deliver"): "fulfil",
        ("in-progress", "fail"): "fail"}


class StageError(RuntimeError):
    pass


@dataclass
class Endpoints:
    charity: str
    matching: str
    ledger: str
    staff_key: str
    patience: float  # seconds a service may not answer before the stage gives up on it


async def with_retries(
    send: Callable[[], Awaitable[httpx.Response]], patience: float, retry: Callable[[httpx.Response], bool],
    noted: Callable[[str], None] = lambda _: None,
) -> httpx.Response | None:
    """`send()` again, pausing 0.2 s doubling to 2 s, while the service does not answer or answers
    what `retry` says to try again; the first other answer, or None after `patience` seconds.
    `noted` hears of each try that is retried ("http 503", "http not answering (retried)")."""
    deadline, pause = time.monotonic() + patience, 0.2
    while True:
        try:
            response = await send()
            if not retry(response):
                return response
            noted(f"http {response.status_code}")
        except httpx.TransportError:
            noted("http not answering (retried)")
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(pause)
        pause = min(pause * 2, 2.0)


class Organisations:
    def __init__(self, plan: CharityPlan, endpoints: Endpoints, log: MatchLog, tally: CharityTally) -> None:
        self.plan, self.endpoints, self.log, self.tally = plan, endpoints, log, tally
        self.client = httpx.AsyncClient(timeout=30)
        self.keys: dict[str, str] = {}  # credit code -> the organisation's own key
        self.offered: dict[str, tuple[OrganisationPlan, OfferingPlan]] = {}  # offering id -> what it is
        self.attempts: Counter[tuple[str, str]] = Counter()  # (need, offering) -> proposals answered
        self.seen: set[str] = set()

    async def close(self) -> None:
        await self.client.aclose()

    # --- calls, retried while a service does not answer ----------------------------------------------

    async def call(self, method: str, url: str, key: str, body: Any = None) -> httpx.Response:
        """The answer, once the service gives one that is not a 5xx (a 4xx is returned too)."""
        response = await with_retries(lambda: self.client.request(method, url, json=body, headers={"X-API-Key": key}),
                                      self.endpoints.patience, retry=lambda r: r.status_code >= 500)
        if response is None:
            raise StageError(f"{method} {url} not answered for {self.endpoints.patience:.0f} s")
        return response

    async def expect(self, method: str, url: str, key: str, body: Any = None) -> Any:
        response = await self.call(method, url, key, body)
        if response.status_code not in (200, 201):
            raise StageError(f"{method} {url} answered {response.status_code}: {response.text[:300]}")
        return response.json()

    # --- organisations and offerings -----------------------------------------------------------------

    async def register_all(self) -> None:
        charity, staff = self.endpoints.charity, self.endpoints.staff_key
        for organisation in self.plan.organisations:
            response = await self.call("POST", f"{charity}/organisations", "", organisation.registration())
            if response.status_code == 409:
                raise StageError(f"credit code {organisation.credit_code} is already registered: this hub has seen seed "
                                 f"{self.plan.seed}'s organisations; use another seed")
            if response.status_code != 201:
                raise StageError(f"registration answered {response.status_code}: {response.text[:300]}")
            registered = response.json()
            org_id, first_key = registered["organisation"]["organisation_id"], registered["key"]["api_key"]
            await self.expect("POST", f"{charity}/organisations/{org_id}/approve", staff)
            own = await self.expect("POST", f"{charity}/organisations/{org_id}/keys", first_key, {"label": "hub simulate"})
            self.keys[organisation.credit_code] = own["api_key"]
            for offering in organisation.offerings:
                made = await self.expect("POST", f"{charity}/offerings", own["api_key"], offering.body())
                self.offered[made["offering_id"]] = (organisation, offering)
                self.log.offerings.add(made["offering_id"])
            self.tally.organisations += 1
            self.tally.offerings += len(organisation.offerings)

    # --- answering -----------------------------------------------------------------------------------

    async def answer_round(self) -> int:
        """Every organisation reads its open matches and moves each as far as its answer goes; how many it found."""
        found = 0
        for organisation in self.plan.organisations:
            key = self.keys[organisation.credit_code]
            for state in OPEN_STATES:
                matches = await self.expect("GET", f"{self.endpoints.charity}/inbox?state={state}&limit=1000", key)
                for match in matches:
                    found += 1
                    await self.settle(match, key)
        await self.look_up_missing()
        return found

    async def look_up_missing(self) -> None:
        """Proposals published but not met among the open ones (closed before an inbox was read):
        asked for one by one; a 404 means the charity service has not taken it in yet."""
        for match_id in sorted(set(self.log.proposed) - set(self.tally.states)):
            organisation, _ = self.offered[self.log.proposed[match_id]]
            key = self.keys[organisation.credit_code]
            response = await self.call("GET", f"{self.endpoints.charity}/inbox/{match_id}", key)
            if response.status_code == 200:
                await self.settle(response.json(), key)

    async def settle(self, match: dict[str, Any], key: str) -> None:
        match_id = match["match_id"]
        organisation, offering = self.offered[match["offering_id"]]
        pair = (match["need_id"], match["offering_id"])
        if match_id not in self.seen:
            self.seen.add(match_id)
            self.attempts[pair] += 1
        drawn = answer(self.plan.seed, match["need_id"], offering.title, organisation.credit_code, self.attempts[pair] - 1)
        if match["state"] == "requested":
            self.tally.answers[drawn.outcome] += 1
        url = f"{self.endpoints.charity}/inbox/{match_id}"
        for _ in range(6):
            self.tally.outcome(match_id, match["state"], match.get("reason_code"), match.get("amount_fen"))
            step = STEP.get((match["state"], drawn.outcome))
            if step is None:
                return
            body = {"decline": {"reason_code": drawn.reason_code, "reason": drawn.reason}, "fail": {"reason": drawn.reason},
                    "fulfil": {"delivered_on": offering.valid_from.isoformat()}}.get(step)
            response = await self.call("POST", f"{url}/{step}", key, body)
            if response.status_code == 200:
                match = response.json()
            elif response.status_code == 409:  # answered already (a repeat after a doubt) or closed meanwhile
                match = await self.expect("GET", url, key)
            else:
                self.tally.errors.append(f"{step} {match_id} answered {response.status_code}: {response.text[:200]}")
                return
        self.tally.outcome(match_id, match["state"], match.get("reason_code"), match.get("amount_fen"))

    async def answer_until(self, done: asyncio.Event, quiet: float, matching_idle: Callable[[], bool]) -> None:
        """Answer while the year is played, then until nothing is open, matching is idle, and every
        proposal it published has reached an inbox, for `quiet` seconds in a row (or patience runs out)."""
        calm_since: float | None = None
        last_news = time.monotonic()
        while True:
            found = await self.answer_round()
            waiting = set(self.log.proposed) - set(self.tally.states)
            if found or waiting:
                last_news = time.monotonic() if found else last_news
            settled = done.is_set() and not found and not waiting and await asyncio.to_thread(matching_idle)
            calm_since = (calm_since or time.monotonic()) if settled else None
            if calm_since is not None and time.monotonic() - calm_since >= quiet:
                return
            if done.is_set() and time.monotonic() - last_news > self.endpoints.patience:
                return
            await asyncio.sleep(0.5)

    # --- what became of it ---------------------------------------------------------------------------

    async def check_ledger(self) -> None:
        """Each delivery the charity recorded, looked for in its household's ledger as benefit M:<match id>."""
        by_household: dict[str, set[str]] = {}
        for match_id in self.tally.delivered_fen:
            household = self.log.fulfilled.get(match_id)
            if household:
                by_household.setdefault(household, set()).add(match_id)
        deadline = time.monotonic() + self.endpoints.patience
        while by_household and time.monotonic() < deadline:
            for household, wanted in list(by_household.items()):
                response = await self.call("GET", f"{self.endpoints.ledger}/review/households/{household}", self.endpoints.staff_key)
                if response.status_code == 200:
                    shown = {b.get("benefit_id") for b in response.json().get("benefits", [])}
                    self.tally.in_ledger |= {m for m in wanted if f"M:{m}" in shown}
                    if not wanted - self.tally.in_ledger:
                        del by_household[household]
            if by_household:
                await asyncio.sleep(1.0)

    async def read_unmet(self) -> None:
        response = await self.call("GET", f"{self.endpoints.matching}/reports/unmet-needs", self.endpoints.staff_key)
        if response.status_code != 200:
            self.tally.errors.append(f"matching's unmet-needs report answered {response.status_code}")
            return
        report = response.json()
        self.tally.unmet = report.get("total", 0)
        for cell in report.get("cells", []):
            self.tally.unmet_by_reason.update({k: v for k, v in cell.get("reasons", {}).items() if v})


def matching_idle(url: str, staff_key: str) -> bool:
    """Matching has caught up with its topics, runs no round and has no need waiting for one."""
    try:
        last = httpx.get(f"{url}/rounds/last", headers={"X-API-Key": staff_key}, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return False
    return bool(last.get("caught_up")) and not last.get("running") and not last.get("waiting")
