from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.approval_status import ApprovalStatus
from ..types import UNSET, Unset

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
        optimization_id = self.optimization_id

        status = self.status.value

        decided_at = self.decided_at.isoformat()

        comment = self.comment

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "optimizationId": optimization_id,
                "status": status,
                "decidedAt": decided_at,
            }
        )
        if comment is not UNSET:
            field_dict["comment"] = comment

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        optimization_id = d.pop("optimizationId")

        status = ApprovalStatus(d.pop("status"))

        decided_at = datetime.datetime.fromisoformat(d.pop("decidedAt"))

        comment = d.pop("comment", UNSET)

        approval = cls(
            optimization_id=optimization_id,
            status=status,
            decided_at=decided_at,
            comment=comment,
        )

        approval.additional_properties = d
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
