"""The hub's services as their own processes on one broker, for the year benchmark and the fault
suite: start, wait until healthy, SIGKILL, start again, read their logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hub.simulate import Settings
from kit.settings import HubSettings
from kit.tansu import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    log: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> ServiceProcess:
        self.starts += 1
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"], cwd=ROOT, env=self.env,
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not healthy after {timeout:.0f} s: {self.log.read_text()[-3000:]}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no goodbye, no flush, no offset commit."""
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class HubProcesses:
    """Intake, the ledger, matching and the charity service (those named) on one broker namespace, each with
    its own database: SQLite files in `work` unless URLs are given."""

    hub: HubSettings
    work: Path
    databases: dict[str, str] = field(default_factory=dict)
    log_level: str = "INFO"
    env: dict[str, dict[str, str]] = field(default_factory=dict)  # more settings, by service
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def start(self, *names: str, wait: bool = True) -> HubProcesses:
        self.work.mkdir(parents=True, exist_ok=True)
        for name in names:
            self.add(name).start(wait=False)
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self) -> None:
        for service in self.services.values():
            service.wait_healthy()

    def add(self, name: str) -> ServiceProcess:
        port = free_port()
        url = self.databases.get(name) or f"sqlite:///{self.work / f'{name}.db'}"
        self.databases[name] = url
        env = {
            **os.environ, "PYTHONPATH": str(ROOT), "HUB_KAFKA_BOOTSTRAP": self.hub.kafka_bootstrap,
            "HUB_KAFKA_IDEMPOTENCE": str(self.hub.kafka_idempotence).lower(), "HUB_TOPIC_NAMESPACE": self.hub.topic_namespace,
            "HUB_DATA_DIR": str(self.work), "HUB_LOG_FORMAT": "json", "HUB_LOG_LEVEL": self.log_level,
            f"HUB_{name.upper()}_HTTP_PORT": str(port), f"HUB_{name.upper()}_DATABASE_URL": url, **self.env.get(name, {}),
        }
        service = ServiceProcess(name, env, self.work / f"{name}.log", port)
        self.services[name] = service
        return service

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def simulation_settings(self, rate: float = 0.0, settle: float = 60.0, quiet: bool = True) -> Settings:
        def url(name: str) -> str:
            service = self.services.get(name)
            return service.url if service else "http://127.0.0.1:1"

        return Settings(
            hub=self.hub, intake_url=url("intake"), ledger_url=url("ledger"), charity_url=url("charity"),
            matching_url=url("matching"), rate=rate, settle=settle, quiet=quiet,
        )

    def logs(self) -> list[Path]:
        return sorted(self.work.glob("*.log"))

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()
