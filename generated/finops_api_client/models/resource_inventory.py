from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.resource_inventory_tags import ResourceInventoryTags
    from ..models.resource_inventory_utilization_metrics import (
        ResourceInventoryUtilizationMetrics,
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
        resource_id = self.resource_id

        resource_type = self.resource_type

        region = self.region

        account_id = self.account_id

        current_cost = self.current_cost

        currency = self.currency

        utilization_metrics: dict[str, Any] | Unset = UNSET
        if not isinstance(self.utilization_metrics, Unset):
            utilization_metrics = self.utilization_metrics.to_dict()

        tags: dict[str, Any] | Unset = UNSET
        if not isinstance(self.tags, Unset):
            tags = self.tags.to_dict()

        timestamp: str | Unset = UNSET
        if not isinstance(self.timestamp, Unset):
            timestamp = self.timestamp.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "resourceId": resource_id,
                "resourceType": resource_type,
                "region": region,
            }
        )
        if account_id is not UNSET:
            field_dict["accountId"] = account_id
        if current_cost is not UNSET:
            field_dict["currentCost"] = current_cost
        if currency is not UNSET:
            field_dict["currency"] = currency
        if utilization_metrics is not UNSET:
            field_dict["utilizationMetrics"] = utilization_metrics
        if tags is not UNSET:
            field_dict["tags"] = tags
        if timestamp is not UNSET:
            field_dict["timestamp"] = timestamp

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.resource_inventory_tags import ResourceInventoryTags  # noqa: PLC0415
        from ..models.resource_inventory_utilization_metrics import (
            ResourceInventoryUtilizationMetrics,  # noqa: PLC0415
        )

        d = dict(src_dict)
        resource_id = d.pop("resourceId")

        resource_type = d.pop("resourceType")

        region = d.pop("region")

        account_id = d.pop("accountId", UNSET)

        current_cost = d.pop("currentCost", UNSET)

        currency = d.pop("currency", UNSET)

        _utilization_metrics = d.pop("utilizationMetrics", UNSET)
        utilization_metrics: ResourceInventoryUtilizationMetrics | Unset
        if isinstance(_utilization_metrics, Unset):
            utilization_metrics = UNSET
        else:
            utilization_metrics = ResourceInventoryUtilizationMetrics.from_dict(_utilization_metrics)

        _tags = d.pop("tags", UNSET)
        tags: ResourceInventoryTags | Unset
        if isinstance(_tags, Unset):
            tags = UNSET
        else:
            tags = ResourceInventoryTags.from_dict(_tags)

        _timestamp = d.pop("timestamp", UNSET)
        timestamp: datetime.datetime | Unset
        if isinstance(_timestamp, Unset):
            timestamp = UNSET
        else:
            timestamp = datetime.datetime.fromisoformat(_timestamp)

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

        resource_inventory.additional_properties = d
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
