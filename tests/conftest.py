"""Fixtures for real parts: a Kafka-protocol broker and real databases, chosen in this order.

Broker: HUB_TEST_KAFKA_BOOTSTRAP if set; else Apache Kafka in testcontainers if a Docker engine
answers; else the embedded Tansu broker. Databases: HUB_TEST_POSTGRES_URL if set; else PostgreSQL
in testcontainers; else the local PostgreSQL on 127.0.0.1:5432 if it answers; SQLite always.
Every run uses its own topic namespace and creates (and drops) its own databases.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from contracts.topics import all_topics
from kit.broker import delete_topics
from kit.settings import HubSettings
from kit.tansu import EmbeddedBroker, free_port, port_accepts

ROOT = Path(__file__).resolve().parent.parent
RUN_ID = uuid.uuid4().hex[:8]

# Argon2 at its least cost for every password the suite hashes, in-process and in the services it
# starts (they inherit the environment); production keeps the standard cost (kit/passwords.py).
os.environ.setdefault("HUB_PASSWORD_HASH_COST", "minimal")


def docker_answers() -> bool:
    try:
        import docker

        return bool(docker.from_env(timeout=3).ping())
    except Exception:
        return False


@dataclass(frozen=True)
class BrokerUnderTest:
    bootstrap: str
    kind: str  # "external", "kafka-container" or "embedded"
    namespace: str

    @property
    def idempotence(self) -> bool:
        return self.kind != "embedded"

    def hub_settings(self) -> HubSettings:
        return HubSettings(
            kafka_bootstrap=self.bootstrap, kafka_idempotence=self.idempotence, topic_namespace=self.namespace
        )

    def env(self) -> dict[str, str]:
        return {
            "HUB_KAFKA_BOOTSTRAP": self.bootstrap,
            "HUB_KAFKA_IDEMPOTENCE": str(self.idempotence).lower(),
            "HUB_TOPIC_NAMESPACE": self.namespace,
        }


@pytest.fixture(scope="session")
def kafka() -> Iterator[BrokerUnderTest]:
    namespace = f"t{RUN_ID}."
    external = os.environ.get("HUB_TEST_KAFKA_BOOTSTRAP")
    if external:
        broker = BrokerUnderTest(external, "external", namespace)
        yield broker
        asyncio.run(delete_topics(broker.hub_settings(), all_topics()))
    elif docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield BrokerUnderTest(container.get_bootstrap_server(), "kafka-container", namespace)
    else:
        # The embedded broker waits half a group's session timeout for members before it assigns
        # partitions: 5 s at each service start with the default. 3 s sessions make it 1.5 s (a
        # real Kafka refuses sessions under 6 s, so only here).
        os.environ.setdefault("HUB_KAFKA_SESSION_TIMEOUT_MS", "3000")
        with EmbeddedBroker(log_path=Path(os.environ.get("HUB_TEST_BROKER_LOG", os.devnull))) as embedded:
            yield BrokerUnderTest(embedded.bootstrap, "embedded", namespace)


@pytest.fixture
def hub(kafka: BrokerUnderTest) -> HubSettings:
    """Hub settings for one test: its own topic namespace on the session's broker."""
    return HubSettings(
        kafka_bootstrap=kafka.bootstrap,
        kafka_idempotence=kafka.idempotence,
        topic_namespace=f"{kafka.namespace}{uuid.uuid4().hex[:6]}.",
    )


# --- databases -----------------------------------------------------------------------------------


def _local_postgres() -> str | None:
    if port_accepts("127.0.0.1", 5432):
        return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    return None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    """A URL to a PostgreSQL server's maintenance database, or None if none is available."""
    configured = os.environ.get("HUB_TEST_POSTGRES_URL")
    if configured:
        yield configured
    elif docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver="psycopg") as container:
            yield container.get_connection_url()
    else:
        yield _local_postgres()


@dataclass
class DatabaseFactory:
    """Creates fresh databases for one test and drops them afterwards."""

    kind: str
    server_url: str | None
    tmp_path: Path
    created: list[str] = field(default_factory=list)

    def new_url(self, label: str = "db") -> str:
        name = f"hub_{RUN_ID}_{label}_{uuid.uuid4().hex[:6]}"
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp_path / f'{name}.db'}"
        assert self.server_url is not None
        engine = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.created.append(name)
        return sa.make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.created or self.server_url is None:
            return
        engine = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for name in self.created:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseFactory]:
    """Runs the test once per available database kind; a kind not available here is reported as skipped."""
    kind = request.param
    server = request.getfixturevalue("postgres_server") if kind == "postgresql" else None
    if kind == "postgresql" and server is None:
        pytest.skip("no PostgreSQL server answers here (set HUB_TEST_POSTGRES_URL)")
    factory = DatabaseFactory(kind, server, tmp_path)
    yield factory
    factory.drop_all()


@pytest.fixture
def database_url(databases: DatabaseFactory) -> str:
    return databases.new_url()


# --- service processes ------------------------------------------------------------------------------


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"], cwd=ROOT, env=self.env, stdout=log, stderr=log
        )
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 60) -> dict:
        return wait_all_healthy(self, timeout=timeout)[0]

    def health(self) -> dict | None:
        """/health's answer once it is 200, else None; a process that exited fails the test."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log_path.read_text()[-3000:]}")
        try:
            response = httpx.get(f"{self.url}/health", timeout=2)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


def wait_all_healthy(*services: ServiceProcess, timeout: float = 60) -> list[dict]:
    """Wait for services started with `wait=False` together, so that their starts overlap (each
    takes seconds: imports, migrations, joining its consumer group); their /health answers.
    `timeout` is per service: on a loaded machine overlapping starts are no faster than serial ones."""
    answers: dict[int, dict] = {}
    timeout *= len(services)
    deadline = time.monotonic() + timeout
    while len(answers) < len(services):
        for index, service in enumerate(services):
            if index not in answers and (answer := service.health()) is not None:
                answers[index] = answer
        if len(answers) == len(services):
            break
        if time.monotonic() > deadline:
            late = next(s for i, s in enumerate(services) if i not in answers)
            raise AssertionError(f"{late.name} not healthy after {timeout}s:\n{late.log_path.read_text()[-3000:]}")
        time.sleep(0.1)
    return [answers[index] for index in range(len(services))]


@pytest.fixture
def start_service(hub: HubSettings, tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """Start `python -m services.<name>` as its own process on the test's broker namespace."""
    started: list[ServiceProcess] = []

    def start(name: str, database_url: str | None = None, wait: bool = True, **extra_env: str) -> ServiceProcess:
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HUB_KAFKA_BOOTSTRAP": hub.kafka_bootstrap,
            "HUB_KAFKA_IDEMPOTENCE": str(hub.kafka_idempotence).lower(),
            "HUB_TOPIC_NAMESPACE": hub.topic_namespace,
            "HUB_DATA_DIR": str(tmp_path / "data"),
            "HUB_LOG_FORMAT": "json",
            f"HUB_{name.upper()}_HTTP_PORT": str(port),
            **({f"HUB_{name.upper()}_DATABASE_URL": database_url} if database_url else {}),
            **extra_env,
        }
        service = ServiceProcess(name, port, env, tmp_path / f"{name}-{len(started)}.log")
        started.append(service)
        return service.start(wait=wait)

    yield start
    with ThreadPoolExecutor() as stopping:  # together: each may take seconds to stop cleanly
        list(stopping.map(ServiceProcess.stop, [service for service in started if service.process is not None]))
