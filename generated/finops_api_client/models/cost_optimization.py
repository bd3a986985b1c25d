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

_OPTIMIZATION_TYPE_BY_VALUE: dict[str, OptimizationType] = {member.value: member for member in OptimizationType}
_RISK_LEVEL_BY_VALUE: dict[str, RiskLevel] = {member.value: member for member in RiskLevel}
_OPTIMIZATION_STATUS_BY_VALUE: dict[str, OptimizationStatus] = {member.value: member for member in OptimizationStatus}


_COST_OPTIMIZATION_KEYS = frozenset(
    (
        "optimizationId",
        "resourceId",
        "optimizationType",
        "estimatedSavings",
        "riskLevel",
        "confidenceScore",
        "status",
        "accountId",
        "timestamp",
    )
)


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
        field_dict: dict[str, Any] = {
            **self.additional_properties,
            "optimizationId": self.optimization_id,
            "resourceId": self.resource_id,
            "optimizationType": self.optimization_type.value,
            "estimatedSavings": self.estimated_savings,
        }
        if not isinstance(self.risk_level, Unset):
            field_dict["riskLevel"] = self.risk_level.value
        if self.confidence_score is not UNSET:
            field_dict["confidenceScore"] = self.confidence_score
        if not isinstance(self.status, Unset):
            field_dict["status"] = self.status.value
        if self.account_id is not UNSET:
            field_dict["accountId"] = self.account_id
        if not isinstance(self.timestamp, Unset):
            field_dict["timestamp"] = self.timestamp.isoformat()

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        optimization_id = src_dict["optimizationId"]

        resource_id = src_dict["resourceId"]

        _optimization_type = src_dict["optimizationType"]
        optimization_type = (
            _OPTIMIZATION_TYPE_BY_VALUE.get(_optimization_type) if isinstance(_optimization_type, str) else None
        ) or OptimizationType(_optimization_type)

        estimated_savings = src_dict["estimatedSavings"]

        _risk_level: Any = src_dict.get("riskLevel", UNSET)
        risk_level: RiskLevel | Unset = (
            UNSET
            if _risk_level is UNSET
            else (_RISK_LEVEL_BY_VALUE.get(_risk_level) if isinstance(_risk_level, str) else None)
            or RiskLevel(_risk_level)
        )

        confidence_score = src_dict.get("confidenceScore", UNSET)

        _status: Any = src_dict.get("status", UNSET)
        status: OptimizationStatus | Unset = (
            UNSET
            if _status is UNSET
            else (_OPTIMIZATION_STATUS_BY_VALUE.get(_status) if isinstance(_status, str) else None)
            or OptimizationStatus(_status)
        )

        account_id = src_dict.get("accountId", UNSET)

        _timestamp: Any = src_dict.get("timestamp", UNSET)
        timestamp: datetime.datetime | Unset = (
            UNSET if _timestamp is UNSET else datetime.datetime.fromisoformat(_timestamp)
        )

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

        if not _COST_OPTIMIZATION_KEYS.issuperset(src_dict):
            cost_optimization.additional_properties = {
                k: v for k, v in src_dict.items() if k not in _COST_OPTIMIZATION_KEYS
            }
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
