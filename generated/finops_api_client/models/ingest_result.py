from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

_INGEST_RESULT_KEYS = frozenset(
    (
        "success",
        "accepted",
        "rejected",
        "timestamp",
        "message",
    )
)


T = TypeVar("T", bound="IngestResult")


@_attrs_define
class IngestResult:
    """
    Attributes:
        success (bool):
        accepted (int):
        rejected (list[IngestRejection]):
        timestamp (datetime.datetime):
        message (str | Unset):
    """

    success: bool
    accepted: int
    rejected: list[IngestRejection]
    timestamp: datetime.datetime
    message: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        field_dict: dict[str, Any] = {
            **self.additional_properties,
            "success": self.success,
            "accepted": self.accepted,
            "rejected": [rejected_item.to_dict() for rejected_item in self.rejected],
            "timestamp": self.timestamp.isoformat(),
        }
        if self.message is not UNSET:
            field_dict["message"] = self.message

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        success = src_dict["success"]

        accepted = src_dict["accepted"]

        rejected = [IngestRejection.from_dict(rejected_item) for rejected_item in src_dict["rejected"]]

        timestamp = datetime.datetime.fromisoformat(src_dict["timestamp"])

        message = src_dict.get("message", UNSET)

        ingest_result = cls(
            success=success,
            accepted=accepted,
            rejected=rejected,
            timestamp=timestamp,
            message=message,
        )

        if not _INGEST_RESULT_KEYS.issuperset(src_dict):
            ingest_result.additional_properties = {k: v for k, v in src_dict.items() if k not in _INGEST_RESULT_KEYS}
        return ingest_result

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
from ..models.ingest_rejection import IngestRejection
