"""The fault suite's shared parts: its scale, the hub's services as processes, a ledger's tables
made comparable, and the personal data sent in (for the log scan at the end).

`make test` runs the bounded form (about two thousand events, five kills); `make faults`
sets HUB_FAULTS=full for the long one (100,000 events, at least 20 kills, longer outages)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from bench.hub_run import HubProcesses
from hub.simulate_year import Year
from kit.settings import HubSettings

FULL = os.environ.get("HUB_FAULTS", "bounded") == "full"


@dataclass(frozen=True)
class Scale:
    households: int  # about 7 events each
    kills: int
    kill_every: float  # seconds between kills
    outage: float  # seconds a database is unreachable
    broker_outage: float  # seconds the broker is stopped
    bad_inputs: int  # property-based examples

    @property
    def name(self) -> str:
        return "full" if FULL else "bounded"


SCALE = Scale(households=14_300, kills=24, kill_every=4.0, outage=30.0, broker_outage=60.0, bad_inputs=2000) if FULL else \
    Scale(households=300, kills=5, kill_every=2.5, outage=6.0, broker_outage=10.0, bad_inputs=100)  # 5 kills: each service, then all four


@pytest.fixture(scope="session")
def scale() -> Scale:
    return SCALE


# --- personal data sent in, and every log written ---------------------------------------------------


@dataclass
class SentIn:
    """Resident ID numbers and names that went into the hub during the suite, and its log files."""

    resident_ids: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    logs: set[Path] = field(default_factory=set)

    def add_year(self, year: Year) -> None:
        for event in year.events:
            if event.event_type != "household.reported":
                continue
            try:
                self.add_members(orjson.loads(event.value)["data"]["members"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue

    def add_members(self, members: Iterable[dict[str, Any]]) -> None:
        for member in members:
            if member.get("resident_id"):
                self.resident_ids.add(member["resident_id"])
            if len(member.get("name", "")) >= 2:
                self.names.add(member["name"])


SENT_IN = SentIn()


@pytest.fixture(scope="session")
def sent_in() -> SentIn:
    return SENT_IN


# --- the hub's services as processes ----------------------------------------------------------------


@pytest.fixture
def hub_processes(kafka, tmp_path: Path) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """Makes HubProcesses on the session's broker, each with its own topic namespace; stops them
    all at the end and remembers their logs for the scan."""
    made: list[HubProcesses] = []

    def make(label: str, databases: dict[str, str] | None = None, log_level: str = "INFO",
             env: dict[str, dict[str, str]] | None = None) -> HubProcesses:
        hub = HubSettings(kafka_bootstrap=kafka.bootstrap, kafka_idempotence=kafka.idempotence,
                          topic_namespace=f"{kafka.namespace}{label}{uuid.uuid4().hex[:6]}.")
        processes = HubProcesses(hub, tmp_path / label, dict(databases or {}), log_level=log_level, env=dict(env or {}))
        made.append(processes)
        return processes

    yield make
    for processes in made:
        processes.stop()
        SENT_IN.logs.update(processes.logs())


# --- a ledger's tables, comparable between two runs ---------------------------------------------------

# Columns that record when or in which batch something was written, not what the ledger holds.
VOLATILE = {
    "ledger_household": {"updated_at", "revision", "profile_at", "profile_event_id"},
    # Which of two conflicting grants came second, when two departments sent them by different
    # ways (Kafka, HTTP), is a race: the alert's raising event, wording and order of benefits follow it.
    "ledger_alert": {"alert_id", "raised_at", "resolved_at", "decided_at", "raised_by_event", "description", "conflict_key"},
}
UNORDERED = {"ledger_alert": "benefits"}  # lists whose order follows that race
TABLES = ("ledger_household", "ledger_member", "ledger_need", "ledger_benefit", "ledger_event", "ledger_alert")


def ledger_tables(url: str, names: StableNames | None = None) -> dict[str, list[str]]:
    """Each table's rows as sorted JSON lines, hub household ids replaced by the household's
    members (intake names a hub household after whichever department reported it first, and
    departments on Kafka and on HTTP race for that), the charity's random ids by what they stand
    for, time-of-writing columns left out (`*_at`: a charity delivery's time is the wall clock's)."""
    names = names or StableNames.of({"ledger": url})
    with _connected(url) as connection:
        tables = {}
        for table in TABLES:
            rows = [dict(row._mapping) for row in connection.execute(sa.text(f"SELECT * FROM {table}"))]
            for row in rows:
                if (name := UNORDERED.get(table)) and row.get(name) is not None:
                    row[name] = sorted(_plain(row[name]), key=lambda item: json.dumps(item, sort_keys=True))
            tables[table] = sorted(_line(row, VOLATILE.get(table, set()), names) for row in rows)
    return tables


def _plain(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# --- the charity inboxes and the matching pool, comparable between two runs ---------------------------

CHARITY_TABLES = ("charity_organisation", "charity_api_key", "charity_offering", "charity_match")
MATCHING_TABLES = ("matching_household", "matching_need", "matching_offering", "matching_proposal")
# Made at random (a key and its digest), by a timer (the overdue warning), or by which of two topics
# matching read first (whether the ledger's household state listed a need open before it was met).
RANDOM_COLUMNS = {"charity_api_key": {"key_id", "sha256"}, "matching_need": {"overdue_sent", "seen_open_in_state"}}
# Ids made at random by the services: organisations, offerings, matches, households (named after a
# race, see above), and any other uuid (an event or correlation id a service made up).
RANDOM_ID = re.compile(r"(?<![-0-9a-f])(hh-[0-9a-f]{24}|org-[0-9a-f]{12}|off-[0-9a-f]{16}|[0-9a-f]{32})(?![0-9a-f])")


@dataclass
class StableNames:
    """Names for the ids a run made at random, from what they stand for: a household by its members,
    an organisation by its credit code, an offering by its organisation and title, a match by its
    need, its offering and its rank among that pair's proposals."""

    names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, databases: dict[str, str]) -> StableNames:
        found = cls()
        with _connected(databases["ledger"]) as ledger:
            members: dict[str, list[str]] = {}
            for household, person in ledger.execute(sa.text("SELECT household_id, person_key FROM ledger_member")):
                members.setdefault(household, []).append(person)
        found.names.update({h: "household:" + hashlib.sha256("|".join(sorted(p)).encode()).hexdigest()[:16] for h, p in members.items()})
        if "charity" in databases:
            with _connected(databases["charity"]) as charity:
                codes = dict(charity.execute(sa.text("SELECT organisation_id, credit_code FROM charity_organisation")).all())
                found.names.update({o: f"org:{c}" for o, c in codes.items()})
                for offering, organisation, title in charity.execute(sa.text("SELECT offering_id, organisation_id, title FROM charity_offering")):
                    found.names[offering] = f"offering:{codes.get(organisation)}/{title}"
        if "matching" in databases:
            with _connected(databases["matching"]) as matching:
                rows = matching.execute(sa.text("SELECT match_id, need_id, offering_id FROM matching_proposal ORDER BY proposed_at, match_id"))
                ranks: dict[tuple[str, str], int] = {}
                for match, need, offering in rows:
                    rank = ranks[(need, offering)] = ranks.get((need, offering), 0) + 1
                    found.names[match] = f"match:{need}>{found.names.get(offering, offering)}#{rank}"
        return found

    def rename(self, text: str) -> str:
        return RANDOM_ID.sub(lambda m: self.names.get(m.group(1), "<made at random>"), text)


def service_tables(url: str, tables: tuple[str, ...], names: StableNames) -> dict[str, list[str]]:
    """Each table's rows as sorted JSON lines: random ids named by what they stand for, columns and
    keys that say when something was written (`*_at`) left out."""
    found = {}
    with _connected(url) as connection:
        for table in tables:
            volatile = RANDOM_COLUMNS.get(table, set())
            rows = [dict(row._mapping) for row in connection.execute(sa.text(f"SELECT * FROM {table}"))]
            found[table] = sorted(_line(row, volatile, names) for row in rows)
    return found


def _line(row: dict[str, Any], volatile: set[str], names: StableNames) -> str:
    kept = _timeless({k: _plain(v) for k, v in row.items() if k not in volatile})
    return names.rename(json.dumps(kept, sort_keys=True, ensure_ascii=False, default=str))


def _timeless(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if not k.endswith("_at")}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


class _connected:
    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)

    def __enter__(self) -> sa.Connection:
        self.connection = self.engine.connect()
        return self.connection

    def __exit__(self, *_: object) -> None:
        self.connection.close()
        self.engine.dispose()


def applied_event_ids(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return [row[0] for row in connection.execute(sa.text("SELECT event_id FROM ledger_event"))]
    except sa.exc.SQLAlchemyError:
        return []
    finally:
        engine.dispose()


def differences(expected: dict[str, list[str]], actual: dict[str, list[str]]) -> dict[str, tuple[int, int, list[str]]]:
    """Per table that differs: (rows only expected, rows only actual, a few examples)."""
    found = {}
    for table in expected:
        want, got = set(expected[table]), set(actual[table])
        if want != got or len(expected[table]) != len(actual[table]):
            examples = sorted(want - got)[:2] + sorted(got - want)[:2]
            found[table] = (len(want - got), len(got - want), examples)
    return found


def figures(title: str, **values: Any) -> None:
    """The suite's figures, one line per test (pytest -s shows them; they are in the report too)."""
    line = f"FAULTS [{SCALE.name}] {title}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in values.items())
    print("\n" + line)
    REPORT.append(line)


REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORT:
        terminalreporter.section("fault suite figures")
        for line in REPORT:
            terminalreporter.write_line(line)
