"""pyproject.toml declares what the code imports: every third-party import of the four packages is a
runtime dependency and every runtime dependency is imported; the tests' own imports are in the test extra."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.test_layers import LAYERS

def canonical(name: str) -> str:
    """PEP 503 normalised distribution name: ``PyYAML`` and ``pyyaml`` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(requirements: list[str]) -> set[str]:
    return {canonical(re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]) for requirement in requirements}


def third_party_modules(paths: list[Path]) -> set[str]:
    """Top-level modules imported anywhere in ``paths`` (also inside functions), minus the standard
    library, this project's packages and relative imports."""
    names: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - set(LAYERS) - {"tests", "bench", "__future__"}


def distributions_of(modules: set[str]) -> dict[str, set[str]]:
    providers = metadata.packages_distributions()
    return {module: {canonical(name) for name in providers.get(module, [module])} for module in modules}


PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME = declared(PROJECT["dependencies"])
TEST_EXTRA = declared(PROJECT["optional-dependencies"]["test"])


def package_modules() -> list[Path]:
    return [path for package in LAYERS for path in sorted((REPO_ROOT / package).rglob("*.py"))]


def test_every_third_party_import_of_the_packages_is_a_runtime_dependency() -> None:
    undeclared = {module: names for module, names in distributions_of(third_party_modules(package_modules())).items()
                  if not names & RUNTIME}
    assert not undeclared


def test_every_runtime_dependency_is_imported_by_the_packages() -> None:
    imported = set().union(*distributions_of(third_party_modules(package_modules())).values())
    assert RUNTIME - imported == set()


def test_the_tests_import_only_declared_packages() -> None:
    test_modules = sorted((REPO_ROOT / "tests").rglob("*.py"))
    undeclared = {module: names for module, names in distributions_of(third_party_modules(test_modules)).items()
                  if not names & (RUNTIME | TEST_EXTRA)}
    assert not undeclared


def test_modules_are_matched_to_their_distributions() -> None:
    assert distributions_of({"yaml", "PIL", "iiif_prezi3"}) == {"yaml": {"pyyaml"}, "PIL": {"pillow"},
                                                                "iiif_prezi3": {"iiif-prezi3"}}
