"""`hub up`: the embedded broker (unless an external Kafka is configured), the four services and
the staff web front, each its own process, until Ctrl-C or SIGTERM. An embedded broker that dies
is started again on the same port, with one line saying so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from kit.errors import StartupError
from kit.settings import DEFAULT_PORTS, HubSettings
from kit.tansu import EmbeddedBroker, port_accepts

SERVICES = ("intake", "matching", "charity", "ledger", "web")
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RunningService:
    name: str
    url: str
    process: subprocess.Popen[bytes]


def external_bootstrap() -> str | None:
    return os.environ.get("HUB_KAFKA_BOOTSTRAP") or None


def start_broker(data_dir: Path) -> EmbeddedBroker:
    wanted = os.environ.get("HUB_BROKER_PORT")
    port = int(wanted) if wanted else (9092 if not port_accepts("127.0.0.1", 9092) else None)
    data_dir.mkdir(parents=True, exist_ok=True)
    return EmbeddedBroker(port=port, log_path=data_dir / "broker.log").start()


def service_port(name: str) -> int:
    return int(os.environ.get(f"HUB_{name.upper()}_HTTP_PORT") or DEFAULT_PORTS[name])


def service_url(name: str, hub: HubSettings, port: int | None = None) -> str:
    return f"http://{hub.http_host}:{port or service_port(name)}"


def start_services(env: dict[str, str], hub: HubSettings, intake_instances: int = 1) -> list[RunningService]:
    """One process per service; intake as `intake_instances` members of its consumer group (one
    per core: a process works on one), the extra ones on the intake port plus 10, 20, ..."""
    return [start_service(name, env, hub) for name in SERVICES] + [
        start_service("intake", env, hub, instance) for instance in range(2, intake_instances + 1)
    ]


def start_service(name: str, env: dict[str, str], hub: HubSettings, instance: int = 1) -> RunningService:
    url, label = service_url(name, hub), name
    if instance > 1:
        port = service_port(name) + 10 * (instance - 1)
        url, label = service_url(name, hub, port), f"{name}#{instance}"
        env = {**env, f"HUB_{name.upper()}_HTTP_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", f"services.{name}"], cwd=ROOT, env=env)
    return RunningService(label, url, process)


def wait_until_healthy(services: list[RunningService], timeout: float = 60) -> list[str]:
    """Names of the services that did not become healthy (empty when all are up)."""
    pending = {s.name: s for s in services}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for name, service in list(pending.items()):
            if service.process.poll() is not None:
                return [name]
            try:
                if httpx.get(f"{service.url}/health", timeout=1).status_code == 200:
                    del pending[name]
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    return list(pending)


def stop_services(services: list[RunningService]) -> None:
    for service in services:
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    for service in services:
        try:
            service.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            service.process.kill()


def first_exited(services: list[RunningService]) -> RunningService | None:
    return next((s for s in services if s.process.poll() is not None), None)


def child_environment(bootstrap: str, embedded: bool) -> dict[str, str]:
    env = {**os.environ, "HUB_KAFKA_BOOTSTRAP": bootstrap, "PYTHONPATH": str(ROOT)}
    if embedded:
        env["HUB_KAFKA_IDEMPOTENCE"] = "false"  # Tansu does not support InitProducerId
    return env


def supervise_broker(broker: EmbeddedBroker, print_line=print) -> bool:  # type: ignore[no-untyped-def]
    """Start the embedded broker again, on the same port, if it has died; True if it was.
    It comes back empty (memory only), with a new cluster id: the services see that, create
    their topics again and re-send their outboxes' retained rows (kit.watch)."""
    code = broker.exited()
    if code is None:
        return False
    print_line(f"hub: embedded broker died (exit code {code}); starting a new one on {broker.bootstrap} "
               "(empty: the services create their topics again and re-send what their outboxes kept)")
    try:
        broker.start()
    except StartupError as error:  # the port may still be held a moment: try again at the next turn
        print_line(f"hub: the new broker did not start yet ({error}); trying again")
    return True


def hold_until_signal(services: list[RunningService], broker: EmbeddedBroker | None = None, print_line=print) -> int:  # type: ignore[no-untyped-def]
    """Block until Ctrl-C / SIGTERM (exit 0) or until a service dies (exit 1); an embedded
    broker that dies is started again."""
    stop = False

    def request_stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    while not stop:
        if (dead := first_exited(services)) is not None:
            print(f"hub: {dead.name} exited with code {dead.process.returncode}; stopping the others", file=sys.stderr)
            return 1
        if broker is not None:
            supervise_broker(broker, print_line)
        time.sleep(0.5)
    return 0


def run_hub(print_line=print, intake_instances: int = 1) -> int:  # type: ignore[no-untyped-def]
    hub = HubSettings()
    bootstrap = external_bootstrap()
    broker: EmbeddedBroker | None = None
    if bootstrap is None:
        broker = start_broker(hub.data_dir)
        bootstrap = broker.bootstrap
        print_line(f"broker    embedded Tansu on {bootstrap} (memory only; log in {hub.data_dir / 'broker.log'})")
    else:
        print_line(f"broker    external Kafka at {bootstrap}")
    services = start_services(child_environment(bootstrap, embedded=broker is not None), hub, intake_instances)
    try:
        unhealthy = wait_until_healthy(services)
        if unhealthy:
            raise StartupError(f"{', '.join(unhealthy)} did not start; see the lines above")
        for service in services:
            print_line(f"{service.name:<9} {service.url}  (health: {service.url}/health, API docs: {service.url}/docs)")
        print_line(f"sign in   {service_url('web', hub)}/sign-in  (staff pages; first administrator: hub web create-admin NAME)")
        print_line(f"charities {service_url('charity', hub)}/pages/  (an organisation's own pages: register, sign in, offerings, inbox, keys)")
        print_line("hub is up; Ctrl-C stops everything")
        return hold_until_signal(services, broker, print_line)
    finally:
        stop_services(services)
        if broker is not None:
            broker.stop()
        print_line("hub stopped")
