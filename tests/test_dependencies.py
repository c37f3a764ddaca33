"""The service runs from `pip install -e .` alone (README's first command): every package that `bot`, `api` and
`plugins` import must come with the main dependencies, not only with the test extra the suite installs."""

import ast
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
OWN = {"bot", "api", "plugins"}


def _name(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _installed_with(requirements: list[str]) -> set[str]:
    """The distributions these requirements bring, with what they require in turn (markers as on this machine)."""
    found: set[str] = set()
    todo = [Requirement(line) for line in requirements]
    while todo:
        requirement = todo.pop()
        name = _name(requirement.name)
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        extras = requirement.extras
        key = name + "[" + ",".join(sorted(extras)) + "]"
        if key in found:
            continue
        found |= {name, key}
        try:
            needed = requires(requirement.name) or []
        except PackageNotFoundError:
            continue
        for line in needed:
            sub = Requirement(line)
            if sub.marker is None or sub.marker.evaluate({"extra": ""}) or any(
                    sub.marker.evaluate({"extra": extra}) for extra in extras):
                todo.append(Requirement(str(sub).split(";")[0]))
    return {name for name in found if "[" not in name}


def _imported_top_modules() -> set[str]:
    names: set[str] = set()
    for package in OWN:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - OWN - set(sys.stdlib_module_names) - {"__future__"}


def test_everything_the_service_imports_comes_with_its_main_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    shipped = _installed_with(project["dependencies"])
    providers = packages_distributions()
    fitting_only = {"sklearn"}  # bot/services/classify_fit.py: fits the model with the test extra, never served
    missing = {module: providers.get(module) for module in _imported_top_modules() - fitting_only
               if not {_name(d) for d in providers.get(module, [])} & shipped}
    assert missing == {}, f"imported by the service but installed only by the test extra (or not at all): {missing}"
