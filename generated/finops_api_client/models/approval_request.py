from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

_APPROVAL_REQUEST_KEYS = frozenset(
    (
        "approved",
        "comment",
    )
)


T = TypeVar("T", bound="ApprovalRequest")


@_attrs_define
class ApprovalRequest:
    """
    Attributes:
        approved (bool):  Default: True.
        comment (str | Unset):
    """

    approved: bool = True
    comment: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        field_dict: dict[str, Any] = {
            **self.additional_properties,
            "approved": self.approved,
        }
        if self.comment is not UNSET:
            field_dict["comment"] = self.comment

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        approved = src_dict["approved"]

        comment = src_dict.get("comment", UNSET)

        approval_request = cls(
            approved=approved,
            comment=comment,
        )

        if not _APPROVAL_REQUEST_KEYS.issuperset(src_dict):
            approval_request.additional_properties = {
                k: v for k, v in src_dict.items() if k not in _APPROVAL_REQUEST_KEYS
            }
        return approval_request

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
