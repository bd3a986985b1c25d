from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.severity import Severity
from ..types import UNSET, Unset

_SEVERITY_BY_VALUE: dict[str, Severity] = {member.value: member for member in Severity}


_COST_ANOMALY_KEYS = frozenset(
    (
        "anomalyId",
        "anomalyType",
        "severity",
        "actualCost",
        "expectedCost",
        "region",
        "rootCause",
        "accountId",
        "detectedAt",
    )
)


T = TypeVar("T", bound="CostAnomaly")


@_attrs_define
class CostAnomaly:
    """
    Attributes:
        anomaly_id (str):
        anomaly_type (str):
        severity (Severity):
        actual_cost (float):
        expected_cost (float):
        region (str | Unset):
        root_cause (str | Unset):
        account_id (str | Unset):
        detected_at (datetime.datetime | Unset):
    """

    anomaly_id: str
    anomaly_type: str
    severity: Severity
    actual_cost: float
    expected_cost: float
    region: str | Unset = UNSET
    root_cause: str | Unset = UNSET
    account_id: str | Unset = UNSET
    detected_at: datetime.datetime | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        field_dict: dict[str, Any] = {
            **self.additional_properties,
            "anomalyId": self.anomaly_id,
            "anomalyType": self.anomaly_type,
            "severity": self.severity.value,
            "actualCost": self.actual_cost,
            "expectedCost": self.expected_cost,
        }
        if self.region is not UNSET:
            field_dict["region"] = self.region
        if self.root_cause is not UNSET:
            field_dict["rootCause"] = self.root_cause
        if self.account_id is not UNSET:
            field_dict["accountId"] = self.account_id
        if not isinstance(self.detected_at, Unset):
            field_dict["detectedAt"] = self.detected_at.isoformat()

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        anomaly_id = src_dict["anomalyId"]

        anomaly_type = src_dict["anomalyType"]

        _severity = src_dict["severity"]
        severity = (_SEVERITY_BY_VALUE.get(_severity) if isinstance(_severity, str) else None) or Severity(_severity)

        actual_cost = src_dict["actualCost"]

        expected_cost = src_dict["expectedCost"]

        region = src_dict.get("region", UNSET)

        root_cause = src_dict.get("rootCause", UNSET)

        account_id = src_dict.get("accountId", UNSET)

        _detected_at: Any = src_dict.get("detectedAt", UNSET)
        detected_at: datetime.datetime | Unset = (
            UNSET if _detected_at is UNSET else datetime.datetime.fromisoformat(_detected_at)
        )

        cost_anomaly = cls(
            anomaly_id=anomaly_id,
            anomaly_type=anomaly_type,
            severity=severity,
            actual_cost=actual_cost,
            expected_cost=expected_cost,
            region=region,
            root_cause=root_cause,
            account_id=account_id,
            detected_at=detected_at,
        )

        if not _COST_ANOMALY_KEYS.issuperset(src_dict):
            cost_anomaly.additional_properties = {k: v for k, v in src_dict.items() if k not in _COST_ANOMALY_KEYS}
        return cost_anomaly

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
