from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

_ANOMALY_PAGE_KEYS = frozenset(
    (
        "success",
        "data",
        "timestamp",
        "nextCursor",
    )
)


T = TypeVar("T", bound="AnomalyPage")


@_attrs_define
class AnomalyPage:
    """
    Attributes:
        success (bool):
        data (list[CostAnomaly]):
        timestamp (datetime.datetime):
        next_cursor (None | str | Unset): Cursor of the next page; absent or null on the last page.
    """

    success: bool
    data: list[CostAnomaly]
    timestamp: datetime.datetime
    next_cursor: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

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

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        success = src_dict["success"]

        data = [CostAnomaly.from_dict(data_item) for data_item in src_dict["data"]]

        timestamp = datetime.datetime.fromisoformat(src_dict["timestamp"])

        next_cursor = src_dict.get("nextCursor", UNSET)

        anomaly_page = cls(
            success=success,
            data=data,
            timestamp=timestamp,
            next_cursor=next_cursor,
        )

        if not _ANOMALY_PAGE_KEYS.issuperset(src_dict):
            anomaly_page.additional_properties = {k: v for k, v in src_dict.items() if k not in _ANOMALY_PAGE_KEYS}
        return anomaly_page

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
from ..models.cost_anomaly import CostAnomaly
