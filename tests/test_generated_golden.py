"""generated/ is exactly what openapi.yaml and codegen/ produce, the generator is deterministic, and the model
template writes what it should."""

from __future__ import annotations

import ast
import hashlib
import inspect
import re
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import attrs
import finops_api_client
import finops_api_client.models
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


# The model template (codegen/templates/model.py.jinja): what it writes, pinned on the models the bulk
# paths use most. A deliberate template change updates these; an accidental one fails here.
GOLDEN: dict[tuple[str, str], str] = {
    ("ResourceInventory", "from_dict"): """\
@classmethod
def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
    resource_id = src_dict["resourceId"]

    resource_type = src_dict["resourceType"]

    region = src_dict["region"]

    account_id = src_dict.get("accountId", UNSET)

    current_cost = src_dict.get("currentCost", UNSET)

    currency = src_dict.get("currency", UNSET)

    _utilization_metrics: Any = src_dict.get("utilizationMetrics", UNSET)
    utilization_metrics: ResourceInventoryUtilizationMetrics | Unset = (
        UNSET
        if _utilization_metrics is UNSET
        else ResourceInventoryUtilizationMetrics.from_dict(_utilization_metrics)
    )

    _tags: Any = src_dict.get("tags", UNSET)
    tags: ResourceInventoryTags | Unset = UNSET if _tags is UNSET else ResourceInventoryTags.from_dict(_tags)

    _timestamp: Any = src_dict.get("timestamp", UNSET)
    timestamp: datetime.datetime | Unset = (
        UNSET if _timestamp is UNSET else datetime.datetime.fromisoformat(_timestamp)
    )

    resource_inventory = cls(
        resource_id=resource_id,
        resource_type=resource_type,
        region=region,
        account_id=account_id,
        current_cost=current_cost,
        currency=currency,
        utilization_metrics=utilization_metrics,
        tags=tags,
        timestamp=timestamp,
    )

    if not _RESOURCE_INVENTORY_KEYS.issuperset(src_dict):
        resource_inventory.additional_properties = {
            k: v for k, v in src_dict.items() if k not in _RESOURCE_INVENTORY_KEYS
        }
    return resource_inventory
""",
    ("ResourceInventory", "to_dict"): """\
def to_dict(self) -> dict[str, Any]:
    field_dict: dict[str, Any] = {
        **self.additional_properties,
        "resourceId": self.resource_id,
        "resourceType": self.resource_type,
        "region": self.region,
    }
    if self.account_id is not UNSET:
        field_dict["accountId"] = self.account_id
    if self.current_cost is not UNSET:
        field_dict["currentCost"] = self.current_cost
    if self.currency is not UNSET:
        field_dict["currency"] = self.currency
    if not isinstance(self.utilization_metrics, Unset):
        field_dict["utilizationMetrics"] = self.utilization_metrics.to_dict()
    if not isinstance(self.tags, Unset):
        field_dict["tags"] = self.tags.to_dict()
    if not isinstance(self.timestamp, Unset):
        field_dict["timestamp"] = self.timestamp.isoformat()

    return field_dict
""",
    ("HealthStatus", "from_dict"): """\
@classmethod
def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
    _status = src_dict["status"]
    status = (
        _HEALTH_STATUS_STATUS_BY_VALUE.get(_status) if isinstance(_status, str) else None
    ) or HealthStatusStatus(_status)

    timestamp = datetime.datetime.fromisoformat(src_dict["timestamp"])

    version = src_dict.get("version", UNSET)

    health_status = cls(
        status=status,
        timestamp=timestamp,
        version=version,
    )

    if not _HEALTH_STATUS_KEYS.issuperset(src_dict):
        health_status.additional_properties = {k: v for k, v in src_dict.items() if k not in _HEALTH_STATUS_KEYS}
    return health_status
""",
    ("ResourcePage", "from_dict"): """\
@classmethod
def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
    success = src_dict["success"]

    data = [ResourceInventory.from_dict(data_item) for data_item in src_dict["data"]]

    timestamp = datetime.datetime.fromisoformat(src_dict["timestamp"])

    next_cursor = src_dict.get("nextCursor", UNSET)

    resource_page = cls(
        success=success,
        data=data,
        timestamp=timestamp,
        next_cursor=next_cursor,
    )

    if not _RESOURCE_PAGE_KEYS.issuperset(src_dict):
        resource_page.additional_properties = {k: v for k, v in src_dict.items() if k not in _RESOURCE_PAGE_KEYS}
    return resource_page
""",
    ("ResourcePage", "to_dict"): """\
def to_dict(self) -> dict[str, Any]:
    field_dict: dict[str, Any] = {
        **self.additional_properties,
        "success": self.success,
        "data": [data_item.to_dict() for data_item in self.data],
        "timestamp": self.timestamp.isoformat(),
    }
    if self.next_cursor is not UNSET:
        field_dict["nextCursor"] = self.next_cursor

    return field_dict
""",
}


@pytest.mark.parametrize(("name", "method"), list(GOLDEN), ids=[f"{n}.{m}" for n, m in GOLDEN])
def test_model_methods_match_their_golden_source(name: str, method: str) -> None:
    source = textwrap.dedent(inspect.getsource(getattr(getattr(finops_api_client.models, name), method)))
    assert source == GOLDEN[name, method]


MODEL_MODULES = sorted((CHECKED_IN / "models").glob("*.py"))


@pytest.mark.parametrize("path", MODEL_MODULES, ids=[p.stem for p in MODEL_MODULES])
def test_model_modules_import_nothing_per_call_and_copy_nothing(path: Path) -> None:
    """No import inside a function (about a microsecond per call), no pop from a copy, no UNSET churn."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        inner = [n for n in ast.walk(func) if isinstance(n, ast.Import | ast.ImportFrom)]
        assert not inner, f"{path.name}: {func.name} imports at every call"
    text = path.read_text(encoding="utf-8")
    assert ".pop(" not in text
    assert "TYPE_CHECKING" not in text
    assert not re.search(r"isinstance\(_\w+, *Unset\)", text), f"{path.name}: an UNSET isinstance check in from_dict"
    if "def from_dict" in text and "issuperset" not in text:
        assert "= dict(src_dict)" in text, f"{path.name}: a model without fields copies its mapping once"


@pytest.mark.parametrize("name", sorted(finops_api_client.models.__all__))
def test_model_annotations_resolve(name: str) -> None:
    """The field models are real module names now (imported at the bottom), not TYPE_CHECKING-only."""
    cls = getattr(finops_api_client.models, name)
    if attrs.has(cls):
        hints = typing.get_type_hints(cls)
        assert set(hints) == {f.name for f in attrs.fields(cls)}
