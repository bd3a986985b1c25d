from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.approval_status import ApprovalStatus
from ..types import UNSET, Unset

_APPROVAL_STATUS_BY_VALUE: dict[str, ApprovalStatus] = {member.value: member for member in ApprovalStatus}


_APPROVAL_KEYS = frozenset(
    (
        "optimizationId",
        "status",
        "decidedAt",
        "comment",
    )
)


T = TypeVar("T", bound="Approval")


@_attrs_define
class Approval:
    """
    Attributes:
        optimization_id (str):
        status (ApprovalStatus):
        decided_at (datetime.datetime):
        comment (str | Unset):
    """

    optimization_id: str
    status: ApprovalStatus
    decided_at: datetime.datetime
    comment: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        field_dict: dict[str, Any] = {
            **self.additional_properties,
            "optimizationId": self.optimization_id,
            "status": self.status.value,
            "decidedAt": self.decided_at.isoformat(),
        }
        if self.comment is not UNSET:
            field_dict["comment"] = self.comment

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        optimization_id = src_dict["optimizationId"]

        _status = src_dict["status"]
        status = (_APPROVAL_STATUS_BY_VALUE.get(_status) if isinstance(_status, str) else None) or ApprovalStatus(
            _status
        )

        decided_at = datetime.datetime.fromisoformat(src_dict["decidedAt"])

        comment = src_dict.get("comment", UNSET)

        approval = cls(
            optimization_id=optimization_id,
            status=status,
            decided_at=decided_at,
            comment=comment,
        )

        if not _APPROVAL_KEYS.issuperset(src_dict):
            approval.additional_properties = {k: v for k, v in src_dict.items() if k not in _APPROVAL_KEYS}
        return approval

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
