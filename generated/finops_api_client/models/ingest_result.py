from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.ingest_rejection import IngestRejection


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
        success = self.success

        accepted = self.accepted

        rejected = []
        for rejected_item_data in self.rejected:
            rejected_item = rejected_item_data.to_dict()
            rejected.append(rejected_item)

        timestamp = self.timestamp.isoformat()

        message = self.message

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "success": success,
                "accepted": accepted,
                "rejected": rejected,
                "timestamp": timestamp,
            }
        )
        if message is not UNSET:
            field_dict["message"] = message

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.ingest_rejection import IngestRejection  # noqa: PLC0415

        d = dict(src_dict)
        success = d.pop("success")

        accepted = d.pop("accepted")

        rejected = []
        _rejected = d.pop("rejected")
        for rejected_item_data in _rejected:
            rejected_item = IngestRejection.from_dict(rejected_item_data)

            rejected.append(rejected_item)

        timestamp = datetime.datetime.fromisoformat(d.pop("timestamp"))

        message = d.pop("message", UNSET)

        ingest_result = cls(
            success=success,
            accepted=accepted,
            rejected=rejected,
            timestamp=timestamp,
            message=message,
        )

        ingest_result.additional_properties = d
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
