from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

_ERROR_DETAIL_KEYS = frozenset(
    (
        "code",
        "message",
        "details",
    )
)


T = TypeVar("T", bound="ErrorDetail")


@_attrs_define
class ErrorDetail:
    """
    Attributes:
        code (str):
        message (str):
        details (ErrorDetailDetails | Unset):
    """

    code: str
    message: str
    details: ErrorDetailDetails | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        field_dict: dict[str, Any] = {
            **self.additional_properties,
            "code": self.code,
            "message": self.message,
        }
        if not isinstance(self.details, Unset):
            field_dict["details"] = self.details.to_dict()

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        code = src_dict["code"]

        message = src_dict["message"]

        _details: Any = src_dict.get("details", UNSET)
        details: ErrorDetailDetails | Unset = UNSET if _details is UNSET else ErrorDetailDetails.from_dict(_details)

        error_detail = cls(
            code=code,
            message=message,
            details=details,
        )

        if not _ERROR_DETAIL_KEYS.issuperset(src_dict):
            error_detail.additional_properties = {k: v for k, v in src_dict.items() if k not in _ERROR_DETAIL_KEYS}
        return error_detail

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
from ..models.error_detail_details import ErrorDetailDetails
