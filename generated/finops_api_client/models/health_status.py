from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.health_status_status import HealthStatusStatus
from ..types import UNSET, Unset

_HEALTH_STATUS_STATUS_BY_VALUE: dict[str, HealthStatusStatus] = {member.value: member for member in HealthStatusStatus}


_HEALTH_STATUS_KEYS = frozenset(
    (
        "status",
        "timestamp",
        "version",
    )
)


T = TypeVar("T", bound="HealthStatus")


@_attrs_define
class HealthStatus:
    """
    Attributes:
        status (HealthStatusStatus):
        timestamp (datetime.datetime):
        version (str | Unset):
    """

    status: HealthStatusStatus
    timestamp: datetime.datetime
    version: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        field_dict: dict[str, Any] = {
            **self.additional_properties,
            "status": self.status.value,
            "timestamp": self.timestamp.isoformat(),
        }
        if self.version is not UNSET:
            field_dict["version"] = self.version

        return field_dict

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
