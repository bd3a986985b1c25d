from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

_RESOURCE_INVENTORY_KEYS = frozenset(
    (
        "resourceId",
        "resourceType",
        "region",
        "accountId",
        "currentCost",
        "currency",
        "utilizationMetrics",
        "tags",
        "timestamp",
    )
)


T = TypeVar("T", bound="ResourceInventory")


@_attrs_define
class ResourceInventory:
    """
    Attributes:
        resource_id (str):
        resource_type (str):
        region (str):
        account_id (str | Unset):
        current_cost (float | Unset):
        currency (str | Unset):  Default: 'USD'.
        utilization_metrics (ResourceInventoryUtilizationMetrics | Unset):
        tags (ResourceInventoryTags | Unset):
        timestamp (datetime.datetime | Unset):
    """

    resource_id: str
    resource_type: str
    region: str
    account_id: str | Unset = UNSET
    current_cost: float | Unset = UNSET
    currency: str | Unset = "USD"
    utilization_metrics: ResourceInventoryUtilizationMetrics | Unset = UNSET
    tags: ResourceInventoryTags | Unset = UNSET
    timestamp: datetime.datetime | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

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


# The field models, imported last: a cycle of models still imports (nothing above uses them on import).
from ..models.resource_inventory_tags import ResourceInventoryTags
from ..models.resource_inventory_utilization_metrics import (
    ResourceInventoryUtilizationMetrics,
)
