from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.optimization_status import OptimizationStatus
from ..models.optimization_type import OptimizationType
from ..models.risk_level import RiskLevel
from ..types import UNSET, Unset

T = TypeVar("T", bound="CostOptimization")


@_attrs_define
class CostOptimization:
    """
    Attributes:
        optimization_id (str):
        resource_id (str):
        optimization_type (OptimizationType):
        estimated_savings (float):
        risk_level (RiskLevel | Unset):
        confidence_score (float | Unset):
        status (OptimizationStatus | Unset):
        account_id (str | Unset):
        timestamp (datetime.datetime | Unset):
    """

    optimization_id: str
    resource_id: str
    optimization_type: OptimizationType
    estimated_savings: float
    risk_level: RiskLevel | Unset = UNSET
    confidence_score: float | Unset = UNSET
    status: OptimizationStatus | Unset = UNSET
    account_id: str | Unset = UNSET
    timestamp: datetime.datetime | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        optimization_id = self.optimization_id

        resource_id = self.resource_id

        optimization_type = self.optimization_type.value

        estimated_savings = self.estimated_savings

        risk_level: str | Unset = UNSET
        if not isinstance(self.risk_level, Unset):
            risk_level = self.risk_level.value

        confidence_score = self.confidence_score

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

        account_id = self.account_id

        timestamp: str | Unset = UNSET
        if not isinstance(self.timestamp, Unset):
            timestamp = self.timestamp.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "optimizationId": optimization_id,
                "resourceId": resource_id,
                "optimizationType": optimization_type,
                "estimatedSavings": estimated_savings,
            }
        )
        if risk_level is not UNSET:
            field_dict["riskLevel"] = risk_level
        if confidence_score is not UNSET:
            field_dict["confidenceScore"] = confidence_score
        if status is not UNSET:
            field_dict["status"] = status
        if account_id is not UNSET:
            field_dict["accountId"] = account_id
        if timestamp is not UNSET:
            field_dict["timestamp"] = timestamp

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        optimization_id = d.pop("optimizationId")

        resource_id = d.pop("resourceId")

        optimization_type = OptimizationType(d.pop("optimizationType"))

        estimated_savings = d.pop("estimatedSavings")

        _risk_level = d.pop("riskLevel", UNSET)
        risk_level: RiskLevel | Unset
        if isinstance(_risk_level, Unset):
            risk_level = UNSET
        else:
            risk_level = RiskLevel(_risk_level)

        confidence_score = d.pop("confidenceScore", UNSET)

        _status = d.pop("status", UNSET)
        status: OptimizationStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = OptimizationStatus(_status)

        account_id = d.pop("accountId", UNSET)

        _timestamp = d.pop("timestamp", UNSET)
        timestamp: datetime.datetime | Unset
        if isinstance(_timestamp, Unset):
            timestamp = UNSET
        else:
            timestamp = datetime.datetime.fromisoformat(_timestamp)

        cost_optimization = cls(
            optimization_id=optimization_id,
            resource_id=resource_id,
            optimization_type=optimization_type,
            estimated_savings=estimated_savings,
            risk_level=risk_level,
            confidence_score=confidence_score,
            status=status,
            account_id=account_id,
            timestamp=timestamp,
        )

        cost_optimization.additional_properties = d
        return cost_optimization

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
