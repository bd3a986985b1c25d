from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

_INGEST_REJECTION_KEYS = frozenset(
    (
        "index",
        "reason",
        "id",
    )
)


T = TypeVar("T", bound="IngestRejection")


@_attrs_define
class IngestRejection:
    """
    Attributes:
        index (int): Position in the request body.
        reason (str):
        id (str | Unset): Identifier of the rejected item, when it had one.
    """

    index: int
    reason: str
    id: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        field_dict: dict[str, Any] = {
            **self.additional_properties,
            "index": self.index,
            "reason": self.reason,
        }
        if self.id is not UNSET:
            field_dict["id"] = self.id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        index = src_dict["index"]

        reason = src_dict["reason"]

        id = src_dict.get("id", UNSET)

        ingest_rejection = cls(
            index=index,
            reason=reason,
            id=id,
        )

        if not _INGEST_REJECTION_KEYS.issuperset(src_dict):
            ingest_rejection.additional_properties = {
                k: v for k, v in src_dict.items() if k not in _INGEST_REJECTION_KEYS
            }
        return ingest_rejection

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
