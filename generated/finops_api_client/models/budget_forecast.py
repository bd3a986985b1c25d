from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.budget_forecast_tags import BudgetForecastTags


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
        budget_id = self.budget_id

        budget_type = self.budget_type

        budget_amount = self.budget_amount

        forecast_amount = self.forecast_amount

        period_start: str | Unset = UNSET
        if not isinstance(self.period_start, Unset):
            period_start = self.period_start.isoformat()

        period_end: str | Unset = UNSET
        if not isinstance(self.period_end, Unset):
            period_end = self.period_end.isoformat()

        parent_budget_id = self.parent_budget_id

        tags: dict[str, Any] | Unset = UNSET
        if not isinstance(self.tags, Unset):
            tags = self.tags.to_dict()

        account_id = self.account_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "budgetId": budget_id,
                "budgetType": budget_type,
                "budgetAmount": budget_amount,
                "forecastAmount": forecast_amount,
            }
        )
        if period_start is not UNSET:
            field_dict["periodStart"] = period_start
        if period_end is not UNSET:
            field_dict["periodEnd"] = period_end
        if parent_budget_id is not UNSET:
            field_dict["parentBudgetId"] = parent_budget_id
        if tags is not UNSET:
            field_dict["tags"] = tags
        if account_id is not UNSET:
            field_dict["accountId"] = account_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.budget_forecast_tags import BudgetForecastTags  # noqa: PLC0415

        d = dict(src_dict)
        budget_id = d.pop("budgetId")

        budget_type = d.pop("budgetType")

        budget_amount = d.pop("budgetAmount")

        forecast_amount = d.pop("forecastAmount")

        _period_start = d.pop("periodStart", UNSET)
        period_start: datetime.date | Unset
        if isinstance(_period_start, Unset):
            period_start = UNSET
        else:
            period_start = datetime.date.fromisoformat(_period_start)

        _period_end = d.pop("periodEnd", UNSET)
        period_end: datetime.date | Unset
        if isinstance(_period_end, Unset):
            period_end = UNSET
        else:
            period_end = datetime.date.fromisoformat(_period_end)

        parent_budget_id = d.pop("parentBudgetId", UNSET)

        _tags = d.pop("tags", UNSET)
        tags: BudgetForecastTags | Unset
        if isinstance(_tags, Unset):
            tags = UNSET
        else:
            tags = BudgetForecastTags.from_dict(_tags)

        account_id = d.pop("accountId", UNSET)

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

        budget_forecast.additional_properties = d
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
