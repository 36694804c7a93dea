"""The independence rule (.importlinter): a service never imports another service; contracts and
kit never import a service; contracts import neither kit nor any framework.

The first test checks this repository. The others prove the check can fail: they build small
package trees that break one rule each and run the same `lint-imports` against them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(project: Path, config: Path) -> subprocess.CompletedProcess[str]:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} missing: install the test extras (import-linter)")
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache", "--no-logo"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_this_repository_keeps_the_rule() -> None:
    result = lint_imports(ROOT, CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Packages under root from {"a/b/c.py": source}; every folder on the way gets an __init__.py."""
    for relative, source in files.items():
        folder = root
        for part in Path(relative).parts[:-1]:
            folder = folder / part
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "__init__.py").touch()
        (root / relative).write_text(source, encoding="utf-8")
    return root


def hub_like_tree(root: Path, extra: dict[str, str]) -> Path:
    """The repository's shape in miniature, every rule kept, then `extra` files laid over it."""
    files = {
        "contracts/envelope.py": "import pydantic\n",
        "kit/broker.py": "import contracts.envelope\n",
        **{f"services/{name}/app.py": "import kit.broker\nimport contracts.envelope\n" for name in ("intake", "matching", "charity", "ledger", "web")},
    }
    return write_tree(root, files | extra)


def test_a_tree_that_keeps_the_rule_passes(tmp_path: Path) -> None:
    result = lint_imports(hub_like_tree(tmp_path, {}), CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("extra", "broken"),
    [
        ({"services/ledger/handlers.py": "from services.intake import app\n"}, "no service imports another"),
        ({"services/matching/domain.py": "def f():\n    import services.charity.app\n"}, "no service imports another"),
        ({"kit/service.py": "import services.ledger.app\n"}, "contracts and kit never import a service"),
        ({"contracts/topics.py": "from kit import broker\n"}, "contracts import neither kit nor services"),
        ({"contracts/schema.py": "import services.intake.app\n"}, "contracts and kit never import a service"),
        ({"contracts/hub.py": "import faststream\n"}, "contracts do not depend on the runtime frameworks"),
    ],
    ids=["service-imports-service", "lazy-import", "kit-imports-service", "contracts-import-kit", "contracts-import-service", "contracts-import-framework"],
)
def test_the_rule_can_fail(tmp_path: Path, extra: dict[str, str], broken: str) -> None:
    result = lint_imports(hub_like_tree(tmp_path, extra), CONFIG)
    assert result.returncode != 0, result.stdout
    assert f"{broken} BROKEN" in result.stdout, result.stdout


def test_a_temporary_config_fails_on_a_cross_import(tmp_path: Path) -> None:
    project = write_tree(
        tmp_path / "project",
        {"shop/orders/models.py": "", "shop/billing/invoices.py": "from shop.orders import models\n"},
    )
    config = tmp_path / "independence.ini"
    config.write_text(
        "[importlinter]\nroot_package = shop\n\n"
        "[importlinter:contract:one]\nname = orders and billing are independent\ntype = independence\n"
        "modules =\n    shop.orders\n    shop.billing\n",
        encoding="utf-8",
    )
    result = lint_imports(project, config)
    assert result.returncode != 0
    assert "shop.billing.invoices -> shop.orders.models" in result.stdout
