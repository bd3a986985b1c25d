from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

_BUDGET_FORECAST_KEYS = frozenset(
    (
        "budgetId",
        "budgetType",
        "budgetAmount",
        "forecastAmount",
        "periodStart",
        "periodEnd",
        "parentBudgetId",
        "tags",
        "accountId",
    )
)


T = TypeVar("T", bound="BudgetForecast")


@_attrs_define
class BudgetForecast:
    """
    Attributes:
        budget_id (str):
        budget_type (str):
        budget_amount (float):
        forecast_amount (float):
        period_start (datetime.date | Unset):
        period_end (datetime.date | Unset):
        parent_budget_id (str | Unset):
        tags (BudgetForecastTags | Unset):
        account_id (str | Unset):
    """

    budget_id: str
    budget_type: str
    budget_amount: float
    forecast_amount: float
    period_start: datetime.date | Unset = UNSET
    period_end: datetime.date | Unset = UNSET
    parent_budget_id: str | Unset = UNSET
    tags: BudgetForecastTags | Unset = UNSET
    account_id: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        field_dict: dict[str, Any] = {
            **self.additional_properties,
            "budgetId": self.budget_id,
            "budgetType": self.budget_type,
            "budgetAmount": self.budget_amount,
            "forecastAmount": self.forecast_amount,
        }
        if not isinstance(self.period_start, Unset):
            field_dict["periodStart"] = self.period_start.isoformat()
        if not isinstance(self.period_end, Unset):
            field_dict["periodEnd"] = self.period_end.isoformat()
        if self.parent_budget_id is not UNSET:
            field_dict["parentBudgetId"] = self.parent_budget_id
        if not isinstance(self.tags, Unset):
            field_dict["tags"] = self.tags.to_dict()
        if self.account_id is not UNSET:
            field_dict["accountId"] = self.account_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        budget_id = src_dict["budgetId"]

        budget_type = src_dict["budgetType"]

        budget_amount = src_dict["budgetAmount"]

        forecast_amount = src_dict["forecastAmount"]

        _period_start: Any = src_dict.get("periodStart", UNSET)
        period_start: datetime.date | Unset = (
            UNSET if _period_start is UNSET else datetime.date.fromisoformat(_period_start)
        )

        _period_end: Any = src_dict.get("periodEnd", UNSET)
        period_end: datetime.date | Unset = UNSET if _period_end is UNSET else datetime.date.fromisoformat(_period_end)

        parent_budget_id = src_dict.get("parentBudgetId", UNSET)

        _tags: Any = src_dict.get("tags", UNSET)
        tags: BudgetForecastTags | Unset = UNSET if _tags is UNSET else BudgetForecastTags.from_dict(_tags)

        account_id = src_dict.get("accountId", UNSET)

        budget_forecast = cls(
            budget_id=budget_id,
            budget_type=budget_type,
            budget_amount=budget_amount,
            forecast_amount=forecast_amount,
            period_start=period_start,
            period_end=period_end,
            parent_budget_id=parent_budget_id,
            tags=tags,
            account_id=account_id,
        )

        if not _BUDGET_FORECAST_KEYS.issuperset(src_dict):
            budget_forecast.additional_properties = {
                k: v for k, v in src_dict.items() if k not in _BUDGET_FORECAST_KEYS
            }
        return budget_forecast

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
from ..models.budget_forecast_tags import BudgetForecastTags
