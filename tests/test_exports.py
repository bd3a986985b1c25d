"""The public surface: ``resilience.__all__`` is what users get, every private module's public
names are re-exported, the package stays independent of the generated client, and it ships
``py.typed``."""

from __future__ import annotations

import ast
import importlib
import importlib.resources
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import resilience

PACKAGE_DIR = Path(resilience.__file__).resolve().parent
FORBIDDEN_IMPORTS = ("finops_api_client", "generated")
#: Names a private module may keep out of ``resilience.__all__``: its testing helpers.
OPTIONAL_MODULES = frozenset({"_testing"})


def private_modules() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules([str(PACKAGE_DIR)])
        if info.name.startswith("_") and not info.name.startswith("__")
    )


def import_private(name: str) -> ModuleType:
    try:
        return importlib.import_module(f"resilience.{name}")
    except ImportError as exc:  # an optional extra that is not installed
        pytest.skip(f"resilience.{name} needs an optional dependency: {exc}")


def ruff_isort_key(name: str) -> tuple[int, list[int | str]]:
    """The order ruff's RUF022 keeps ``__all__`` in: SCREAMING_CASE, then CamelCase, then the
    rest; natural order within each group."""
    if name.isupper() and len(name) > 1:
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    parts: list[int | str] = [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name) if p]
    return group, parts


def test_all_is_sorted_and_unique() -> None:
    names = list(resilience.__all__)
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
    assert names == sorted(names, key=ruff_isort_key)


def test_every_exported_name_resolves() -> None:
    for name in resilience.__all__:
        assert hasattr(resilience, name), name
        assert getattr(resilience, name) is not None, name


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from resilience import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(resilience.__all__)


def test_exported_classes_and_functions_are_ours() -> None:
    for name in resilience.__all__:
        obj = getattr(resilience, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__.startswith("resilience._"), (name, obj.__module__)


def test_no_public_submodules() -> None:
    public = [info.name for info in pkgutil.iter_modules([str(PACKAGE_DIR)]) if not info.name.startswith("_")]
    assert public == [], "implementation belongs in private modules, re-exported from resilience"


def test_private_modules_are_found() -> None:
    assert {"_auth", "_metrics", "_redact", "_layers", "_errors", "_call", "_steps"} <= set(private_modules())


@pytest.mark.parametrize("module_name", private_modules())
def test_private_module_exports_are_reexported(module_name: str) -> None:
    module = import_private(module_name)
    names = getattr(module, "__all__", None)
    assert names is not None, f"resilience.{module_name} has no __all__"
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(module, name), f"resilience.{module_name}.__all__ names missing {name!r}"
    exported = set(resilience.__all__)
    missing = [n for n in names if n not in exported]
    if module_name in OPTIONAL_MODULES:
        missing = [n for n in missing if hasattr(resilience, n)]
    assert not missing, f"resilience.{module_name} declares {missing} public but resilience does not export them"
    for name in names:
        if name in exported:
            assert getattr(resilience, name) is getattr(module, name), name


@pytest.mark.parametrize("module_name", private_modules())
def test_public_classes_and_functions_are_declared(module_name: str) -> None:
    """Every public class or function a private module defines and re-exports is listed in its
    module's ``__all__`` too (the re-export list and the module's own list agree)."""
    module = import_private(module_name)
    declared = set(getattr(module, "__all__", ()))
    exported = set(resilience.__all__)
    for name, obj in vars(module).items():
        if name.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if getattr(obj, "__module__", None) != module.__name__:
            continue  # imported from elsewhere
        if name in exported:
            assert name in declared, f"{name} is exported from resilience but not in {module_name}.__all__"


def imported_modules(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: ".." from resilience would leave the package
                found.append("." * node.level + (node.module or ""))
            elif node.module:
                found.append(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(node.args[0].value)
    return found


def test_resilience_never_imports_the_generated_client() -> None:
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(files) >= 10
    offenders = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in imported_modules(tree):
            top = name.split(".")[0]
            if top in FORBIDDEN_IMPORTS or name.startswith(".."):
                offenders.append(f"{path.relative_to(PACKAGE_DIR)}: {name}")
    assert not offenders


def test_import_scan_catches_forbidden_imports() -> None:
    """The scan above is live: it sees every import form."""
    source = (
        "import finops_api_client\n"
        "from generated.finops_api_client import api\n"
        "from ..generated import x\n"
        "def f():\n"
        "    import importlib\n"
        "    importlib.import_module('finops_api_client.api')\n"
    )
    names = imported_modules(ast.parse(source))
    assert {"finops_api_client", "generated.finops_api_client", "..generated", "finops_api_client.api"} <= set(names)


def test_importing_resilience_loads_neither_the_client_nor_test_extras() -> None:
    code = (
        "import sys, resilience\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('finops_api_client', 'generated', 'openapi_core', 'werkzeug', 'pytest'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_ships_py_typed() -> None:
    marker = importlib.resources.files("resilience").joinpath("py.typed")
    assert marker.is_file()
    assert (PACKAGE_DIR / "py.typed").is_file()


@pytest.mark.parametrize("client_name", ["FinOpsClient", "AsyncFinOpsClient"])
def test_constructor_shows_every_option_of_client_config(client_name: str) -> None:
    """The generated constructors are written from ``ClientConfig``'s fields: every option is
    a keyword with the same default, so ``help(FinOpsClient)`` shows them all and there is no
    second list to keep in sync."""
    import attrs
    import finops_api_client

    from resilience import ClientConfig

    cls = getattr(finops_api_client, client_name)
    params = inspect.signature(cls.__init__).parameters
    fields = {f.name: f for f in attrs.fields(ClientConfig)}
    driver_only = {"self", "transport", "sleep", "asleep"}
    assert set(params) - driver_only == set(fields)
    for name, field in fields.items():
        if name in ("base_url", "timeout"):
            assert params[name].default is None  # None: from the environment or profile, else the default
        else:
            assert params[name].default == field.default, name
        assert name in (cls.__doc__ or ""), f"{name} is not described in {client_name}'s docstring"
