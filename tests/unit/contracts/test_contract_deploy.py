"""The deployment files agree with the contracts: every topic is created with its partitions,
every department gets a user allowed to write its own topic only, every service its database,
its Kafka user and its health check. No Docker engine needed: the compose file is read as YAML and
the Kafka init script runs against stand-ins for the Kafka command-line tools that record calls."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from contracts.catalogue import DEPARTMENTS
from contracts.topics import DEPARTMENT_TOPIC_PREFIX, all_topics, department_topic
from kit.settings import DEFAULT_PORTS

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
INIT_KAFKA = ROOT / "deploy" / "kafka" / "init-kafka.sh"
INIT_DATABASES = ROOT / "deploy" / "postgres" / "init-databases.sh"
ENV_EXAMPLE = ROOT / "deploy" / "hub.env.example"
SERVICES = ("intake", "matching", "charity", "ledger", "web")
NGINX_CONF = ROOT / "deploy" / "nginx" / "hub.conf"
SH = shutil.which("sh")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def shell_variable(script: Path, name: str) -> str:
    match = re.search(rf'^{name}="([^"]*)"', script.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"{name}= not found in {script}"
    return match.group(1)


# --- the compose file -------------------------------------------------------------------------


def test_compose_has_the_parts(compose: dict) -> None:
    assert {"kafka", "kafka-init", "postgres", "proxy", *SERVICES} <= set(compose["services"])
    assert compose["services"]["postgres"]["image"].startswith("postgres:16")
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:")


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_wired(compose: dict, name: str) -> None:
    service = compose["services"][name]
    env = service["environment"]
    prefix = f"HUB_{name.upper()}_"

    assert service["build"]["context"] == "."
    assert service["command"] == ["python", "-m", f"services.{name}"]
    assert env["HUB_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env["HUB_KAFKA_IDEMPOTENCE"] == "true"
    assert env["HUB_KAFKA_SASL_USERNAME"] == name
    assert f"KAFKA_PASSWORD_{name.upper()}" in env["HUB_KAFKA_SASL_PASSWORD"]
    assert env["HUB_LOG_FORMAT"] == "json"
    assert env["HUB_HTTP_HOST"] == "0.0.0.0"
    assert re.fullmatch(rf"postgresql\+psycopg://{name}:\$\{{[^}}]+\}}@postgres:5432/{name}", env[f"{prefix}DATABASE_URL"])
    assert env["HUB_API_KEYS_FILE"] == service["volumes"][0]["target"]
    assert service["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    port = DEFAULT_PORTS[name]
    assert f"http://127.0.0.1:{port}/health" in " ".join(service["healthcheck"]["test"])
    assert all(mapping.endswith(f":{port}") for mapping in service["ports"])
    # the person-key secret goes where person keys are made or compared, nowhere else
    has_secret = any(entry["path"] == "deploy/person-key.env" for entry in service.get("env_file", []))
    assert has_secret == (name in ("intake", "ledger"))


def test_one_origin_behind_a_real_reverse_proxy(compose: dict) -> None:
    """nginx's official image serves every page (the web front at /) and every service's API under
    its name, from one published port; the web front reaches the others inside the network."""
    proxy = compose["services"]["proxy"]
    assert proxy["image"].startswith("nginx:")
    [mount] = proxy["volumes"]
    assert mount.startswith("./deploy/nginx/hub.conf:/etc/nginx/conf.d/") and mount.endswith(":ro")
    assert [p.rsplit(":", 1)[1] for p in proxy["ports"]] == ["8080"]
    assert {name for name, wait in proxy["depends_on"].items() if wait["condition"] == "service_healthy"} == set(SERVICES)

    conf = NGINX_CONF.read_text(encoding="utf-8")
    upstreams = dict(re.findall(r"upstream (\w+)\s*\{\s*server ([\w.-]+:\d+);", conf))
    assert set(upstreams.values()) == {f"{name}:{DEFAULT_PORTS[name]}" for name in SERVICES}
    locations = {path: upstreams[target] for path, target in re.findall(r"location (/[\w-]*/?)\s*\{[^}]*?proxy_pass http://(\w+)", conf)}
    assert locations["/"] == "web:8005"
    for name in ("intake", "ledger", "charity", "matching"):
        assert locations[f"/{name}/"] == f"{name}:{DEFAULT_PORTS[name]}"
        assert re.search(rf"location /{name}/\s+\{{[^}}]*proxy_pass http://\w+/;", conf), f"/{name}/ is taken off"
    assert locations["/pages/"] == "charity:8003"  # the charity's own pages keep their path: their links are absolute
    assert re.search(r"location /pages/\s+\{[^}]*proxy_pass http://\w+;", conf)
    assert re.search(r"location = /pages\s+\{\s*return 301 /pages/;", conf)
    assert "listen 8080;" in conf

    web = compose["services"]["web"]["environment"]
    assert web["HUB_WEB_LEDGER_URL"] == "http://ledger:8004" and web["HUB_WEB_INTAKE_URL"] == "http://intake:8001"
    assert "HUB_WEB_SERVICE_KEY:?" in web["HUB_WEB_SERVICE_KEY"] and "HUB_WEB_SESSION_SECRET:?" in web["HUB_WEB_SESSION_SECRET"]


def test_every_charity_page_link_form_and_asset_reaches_the_charity_behind_nginx() -> None:
    """Behind the single origin the pages work only if every href, action and src in their
    templates is under the prefix nginx passes to the charity service, path unchanged."""
    from services.charity.pages import HERE, PREFIX

    conf = NGINX_CONF.read_text(encoding="utf-8")
    upstreams = dict(re.findall(r"upstream (\w+)\s*\{\s*server ([\w.-]+:\d+);", conf))
    locations = {path: upstreams[target] for path, target in re.findall(r"location (/[\w-]*/?)\s*\{[^}]*?proxy_pass http://(\w+)", conf)}

    def served_by(path: str) -> str:
        return locations[max((p for p in locations if path.startswith(p)), key=len)]

    targets = [(template.name, value) for template in (HERE / "templates").glob("*.html")
               for value in re.findall(r'\b(?:href|action|src|formaction)="([^"]*)"', template.read_text(encoding="utf-8"))]
    assert len(targets) > 30
    for name, value in targets:
        if value.startswith("#"):
            continue
        assert value.startswith("{{ P }}"), f"{name}: {value} is not under the pages' prefix"
        path = value.replace("{{ P }}", PREFIX).split("{{")[0].split("?")[0] or PREFIX
        assert served_by(path if path != PREFIX else PREFIX + "/") == "charity:8003", f"{name}: {value}"


def test_published_port_ranges_do_not_overlap(compose: dict) -> None:
    taken: set[int] = set()
    for name in SERVICES:
        for mapping in compose["services"][name]["ports"]:
            first, last = map(int, re.search(r":(\d+)-(\d+):\d+$", mapping).groups())
            ports = set(range(first, last + 1))
            assert not ports & taken
            taken |= ports


def test_every_compose_secret_is_in_the_env_example(compose: dict) -> None:
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text(encoding="utf-8")))
    example = {line.split("=", 1)[0] for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines() if re.match(r"^\w+=", line)}
    assert required and required <= example
    kafka_users = {v.removeprefix("KAFKA_PASSWORD_").lower() for v in required if v.startswith("KAFKA_PASSWORD_")}
    assert kafka_users == {code.lower() for code in DEPARTMENTS} | set(SERVICES)


def test_kafka_init_gets_every_password(compose: dict) -> None:
    env = compose["services"]["kafka-init"]["environment"]
    for user in [*SERVICES, *(code.lower() for code in DEPARTMENTS)]:
        assert f"KAFKA_PASSWORD_{user.upper()}" in env


# --- the init scripts mirror the contracts ------------------------------------------------------


def test_init_script_knows_every_department() -> None:
    assert shell_variable(INIT_KAFKA, "DEPARTMENTS").split() == [code.lower() for code in DEPARTMENTS]
    assert tuple(shell_variable(INIT_KAFKA, "SERVICES").split()) == SERVICES


def test_init_script_creates_every_topic_as_contracts_say() -> None:
    rows = [line.split() for line in shell_variable(INIT_KAFKA, "HUB_TOPICS").strip().splitlines()]
    in_script = {name: (int(partitions), policy) for name, partitions, policy in rows}
    hub_topics = [t for t in all_topics() if not t.name.startswith(DEPARTMENT_TOPIC_PREFIX)]
    assert in_script == {t.name: (t.partitions, "compact" if t.compacted else "delete") for t in hub_topics}
    department_partitions = int(re.search(r"^DEPARTMENT_TOPIC_PARTITIONS=(\d+)", INIT_KAFKA.read_text(), re.M).group(1))
    assert {department_topic(code).partitions for code in DEPARTMENTS} == {department_partitions}


def test_database_script_creates_each_service_database() -> None:
    match = re.search(r"^for service in ([a-z ]+); do", INIT_DATABASES.read_text(encoding="utf-8"), re.M)
    assert match and tuple(match.group(1).split()) == SERVICES


# --- the Kafka init script, run against recording stand-ins ----------------------------------------


def run_init(tmp_path: Path, env: dict[str, str], existing: str = "") -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "kafka" / "bin"
    bin_dir.mkdir(parents=True)
    log = tmp_path / "calls.log"
    for tool in ("kafka-topics.sh", "kafka-acls.sh", "kafka-configs.sh"):
        stub = bin_dir / tool
        listing = f'case " $* " in *" --list "*) printf "%b" "{existing}";; esac\n' if tool == "kafka-topics.sh" else ""
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\n{listing}', encoding="utf-8")
        stub.chmod(0o755)
    result = subprocess.run(
        [SH, str(INIT_KAFKA)],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "KAFKA_HOME": str(tmp_path / "kafka"), **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return result, calls


def all_passwords() -> dict[str, str]:
    users = [*SERVICES, *(code.lower() for code in DEPARTMENTS)]
    return {"KAFKA_ADMIN_PASSWORD": "admin-pw", **{f"KAFKA_PASSWORD_{u.upper()}": f"pw-{u}" for u in users}}


def acl_calls(calls: list[str], principal: str) -> list[str]:
    return [c for c in calls if c.startswith("kafka-acls.sh") and f"--allow-principal User:{principal} " in c]


@pytest.mark.skipif(SH is None, reason="no POSIX shell")
def test_init_creates_topics_users_and_acls(tmp_path: Path) -> None:
    result, calls = run_init(tmp_path, all_passwords())
    assert result.returncode == 0, result.stderr

    created = {re.search(r"--topic (\S+)", c).group(1) for c in calls if "--create" in c}
    assert created == {t.name for t in all_topics()}
    users = {re.search(r"--entity-name (\S+)", c).group(1) for c in calls if c.startswith("kafka-configs.sh")}
    assert users == {code.lower() for code in DEPARTMENTS} | set(SERVICES)
    assert any("SCRAM-SHA-512=[iterations=8192,password=pw-ca]" in c for c in calls)

    for code in DEPARTMENTS:
        user = code.lower()
        [grant] = acl_calls(calls, user)
        assert re.search(r"--operation Write --operation Describe --topic (\S+)$", grant).group(1) == department_topic(code).name
        assert "prefixed" not in grant

    for service in SERVICES:
        grants = acl_calls(calls, service)
        assert any("--resource-pattern-type prefixed --topic hub." in g and "--operation Write" in g for g in grants)
        assert any(g.endswith(f"--resource-pattern-type prefixed --group {service}") for g in grants)
        reads_departments = any("--topic dept." in g for g in grants)
        assert reads_departments == (service == "intake")
        assert not any("dept." in g and "--operation Write" in g for g in grants)


@pytest.mark.skipif(SH is None, reason="no POSIX shell")
def test_init_keeps_existing_topics_and_honours_the_namespace(tmp_path: Path) -> None:
    existing = "ns1.hub.canonical.v1\\nns1.dept.ca.events.v1\\n"
    result, calls = run_init(tmp_path, {**all_passwords(), "HUB_TOPIC_NAMESPACE": "ns1."}, existing=existing)
    assert result.returncode == 0, result.stderr
    created = {re.search(r"--topic (\S+)", c).group(1) for c in calls if "--create" in c}
    assert created == {f"ns1.{t.name}" for t in all_topics()} - {"ns1.hub.canonical.v1", "ns1.dept.ca.events.v1"}
    assert any(c.endswith("--topic ns1.dept.ca.events.v1") for c in acl_calls(calls, "ca"))
    ledger = acl_calls(calls, "ledger")
    assert any(c.endswith("--topic ns1.hub.") for c in ledger)
    assert any(c.endswith("--group ledger") for c in ledger) and any(c.endswith("--group ns1.ledger") for c in ledger)


@pytest.mark.skipif(SH is None, reason="no POSIX shell")
def test_init_stops_on_a_missing_password(tmp_path: Path) -> None:
    env = all_passwords()
    del env["KAFKA_PASSWORD_HOUSING"]
    result, calls = run_init(tmp_path, env)
    assert result.returncode == 2
    assert "KAFKA_PASSWORD_HOUSING" in result.stderr
    assert not any("--entity-name housing" in c for c in calls)
    assert not any(c.startswith("kafka-acls.sh") for c in calls)


@pytest.mark.skipif(SH is None, reason="no POSIX shell")
def test_init_refuses_a_password_that_would_break_the_syntax(tmp_path: Path) -> None:
    result, _ = run_init(tmp_path, {**all_passwords(), "KAFKA_PASSWORD_CA": "a,b]c"})
    assert result.returncode == 2
    assert "KAFKA_PASSWORD_CA" in result.stderr
