"""The packages depend one way (../shared/STYLE.md): iiif_server at the bottom, then manifests, then
viewer; iiif_archive assembles the platform and is the only package that imports all three."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

# Each package may import the packages listed after it in this order, never those before it.
LAYERS = ("iiif_archive", "viewer", "manifests", "iiif_server")


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & set(LAYERS)


def modules_of(package: str) -> list[Path]:
    return sorted((REPO_ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", LAYERS[1:])
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    above = set(LAYERS[: LAYERS.index(package)])
    offending = {
        f"{path.relative_to(REPO_ROOT)} imports {', '.join(sorted(imported_packages(path) & above))}"
        for path in modules_of(package)
        if imported_packages(path) & above
    }
    assert not offending


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text("def f():\n    from viewer.blueprint import viewer_blueprint\n", encoding="utf-8")
    assert imported_packages(module) == {"viewer"}


def test_only_the_platform_package_imports_all_three() -> None:
    importers = {
        package
        for package in LAYERS
        for path in modules_of(package)
        if imported_packages(path) - {package} >= {"iiif_server", "manifests", "viewer"}
    }
    assert importers == {"iiif_archive"}
