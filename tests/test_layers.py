"""The layers of docs/architecture.md, held to the code: every import of every module of each package, the lazy ones
inside functions included, read with `ast`. A package may import only the packages under it:

    devtools/                      (development tooling: a checkout only)
    provisioning/                  → kiosk, base, drivers
    kiosk/            central/     → base, drivers
    base/             drivers/     → nothing of the others
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

MAY_IMPORT = {
    "base": set(),
    "drivers": set(),
    "kiosk": {"base", "drivers"},
    # central's alert texts go through the GSM modem driver and SMS encoding the kiosk uses (central.alert_sms).
    "central": {"base", "drivers"},
    "provisioning": {"base", "drivers", "kiosk"},
    "devtools": {"base", "drivers", "kiosk", "central", "provisioning"},
}


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, wherever it stands; relative imports are named absolutely."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                if node.module:
                    found.append((node.lineno, f"{base}.{node.module}"))
                else:
                    found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def forbidden_imports(package: str, root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted((root / package).rglob("*.py")):
        for line, module in imported_modules(path, root):
            top = module.split(".")[0]
            if top in MAY_IMPORT and top != package and top not in MAY_IMPORT[package]:
                bad.append(f"{path.relative_to(root)}:{line} imports {module}")
    return bad


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_the_layers_under_it(package):
    assert (ROOT / package).is_dir()
    assert forbidden_imports(package) == []


def test_the_rule_sees_lazy_and_relative_imports(tmp_path):
    """The reader must not miss an import hidden in a function body or written relatively."""
    (tmp_path / "base" / "web").mkdir(parents=True)
    module = tmp_path / "base" / "web" / "probe.py"
    module.write_text("import json\n\ndef late():\n    from kiosk import app\n    from .. import protocol\n"
                      "    import central.store as store\n", encoding="utf-8")
    assert imported_modules(module, tmp_path) == [(1, "json"), (4, "kiosk"), (5, "base.protocol"), (6, "central.store")]
    assert forbidden_imports("base", tmp_path) == ["base/web/probe.py:4 imports kiosk",
                                                   "base/web/probe.py:6 imports central.store"]
