from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

_API_ERROR_KEYS = frozenset(
    (
        "success",
        "error",
    )
)


T = TypeVar("T", bound="Error")


@_attrs_define
class Error:
    """
    Attributes:
        success (bool):
        error (ErrorDetail):
    """

    success: bool
    error: ErrorDetail
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        field_dict: dict[str, Any] = {
            **self.additional_properties,
            "success": self.success,
            "error": self.error.to_dict(),
        }

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        success = src_dict["success"]

        error = ErrorDetail.from_dict(src_dict["error"])

        api_error = cls(
            success=success,
            error=error,
        )

        if not _API_ERROR_KEYS.issuperset(src_dict):
            api_error.additional_properties = {k: v for k, v in src_dict.items() if k not in _API_ERROR_KEYS}
        return api_error

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
from ..models.error_detail import ErrorDetail
