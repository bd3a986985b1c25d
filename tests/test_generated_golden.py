"""generated/ is exactly what openapi.yaml and codegen/ produce, and the generator is deterministic."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import finops_api_client
import pytest
from finops_api_client import _contract

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "finops_api_client"
CHECKED_IN = ROOT / "generated" / PACKAGE


def generate(out: Path) -> Path:
    target = out / PACKAGE
    result = subprocess.run(
        [sys.executable, str(ROOT / "codegen" / "generate.py"), "--out", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"codegen/generate.py failed:\n{result.stdout}\n{result.stderr}"
    return target


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root by relative posix path, __pycache__ left out."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.relative_to(root).parts
    }


def differences(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    out = [f"only in first: {name}" for name in sorted(a.keys() - b.keys())]
    out += [f"only in second: {name}" for name in sorted(b.keys() - a.keys())]
    out += [f"differs: {name}" for name in sorted(a.keys() & b.keys()) if a[name] != b[name]]
    return out


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], dict[str, bytes]]:
    first = generate(tmp_path_factory.mktemp("gen-a"))
    second = generate(tmp_path_factory.mktemp("gen-b"))
    return tree(first), tree(second)


def test_checked_in_code_matches_regeneration(two_runs: tuple[dict[str, bytes], dict[str, bytes]]) -> None:
    fresh, _ = two_runs
    diff = differences(tree(CHECKED_IN), fresh)
    assert not diff, (
        "generated/finops_api_client (first) differs from what openapi.yaml and codegen/ produce "
        "(second); run `make generate`:\n  " + "\n  ".join(diff)
    )


def test_generation_is_byte_identical_across_runs(two_runs: tuple[dict[str, bytes], dict[str, bytes]]) -> None:
    first, second = two_runs
    assert first, "the generator produced no files"
    diff = differences(first, second)
    assert not diff, "two runs of codegen/generate.py differ:\n  " + "\n  ".join(diff)


def test_stamp_matches_spec_and_pinned_generator() -> None:
    assert Path(_contract.__file__).resolve().parent == CHECKED_IN.resolve(), "testing the checked-in package"
    assert hashlib.sha256((ROOT / "openapi.yaml").read_bytes()).hexdigest() == _contract.SPEC_SHA256
    assert _contract.GENERATOR == "openapi-python-client 0.29.1"
    assert finops_api_client.SPEC_SHA256 == _contract.SPEC_SHA256
    assert finops_api_client.GENERATOR == _contract.GENERATOR


@pytest.mark.parametrize("package", [CHECKED_IN, ROOT / "resilience"], ids=["finops_api_client", "resilience"])
def test_packages_ship_py_typed(package: Path) -> None:
    assert (package / "py.typed").is_file()
