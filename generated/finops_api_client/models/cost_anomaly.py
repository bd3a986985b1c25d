from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.severity import Severity
from ..types import UNSET, Unset

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
        anomaly_id = self.anomaly_id

        anomaly_type = self.anomaly_type

        severity = self.severity.value

        actual_cost = self.actual_cost

        expected_cost = self.expected_cost

        region = self.region

        root_cause = self.root_cause

        account_id = self.account_id

        detected_at: str | Unset = UNSET
        if not isinstance(self.detected_at, Unset):
            detected_at = self.detected_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "anomalyId": anomaly_id,
                "anomalyType": anomaly_type,
                "severity": severity,
                "actualCost": actual_cost,
                "expectedCost": expected_cost,
            }
        )
        if region is not UNSET:
            field_dict["region"] = region
        if root_cause is not UNSET:
            field_dict["rootCause"] = root_cause
        if account_id is not UNSET:
            field_dict["accountId"] = account_id
        if detected_at is not UNSET:
            field_dict["detectedAt"] = detected_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        anomaly_id = d.pop("anomalyId")

        anomaly_type = d.pop("anomalyType")

        severity = Severity(d.pop("severity"))

        actual_cost = d.pop("actualCost")

        expected_cost = d.pop("expectedCost")

        region = d.pop("region", UNSET)

        root_cause = d.pop("rootCause", UNSET)

        account_id = d.pop("accountId", UNSET)

        _detected_at = d.pop("detectedAt", UNSET)
        detected_at: datetime.datetime | Unset
        if isinstance(_detected_at, Unset):
            detected_at = UNSET
        else:
            detected_at = datetime.datetime.fromisoformat(_detected_at)

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

        cost_anomaly.additional_properties = d
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
