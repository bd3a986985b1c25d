from enum import StrEnum


class OptimizationType(StrEnum):
    RESERVED_INSTANCE = "RESERVED_INSTANCE"
    RIGHTSIZE = "RIGHTSIZE"
    SAVINGS_PLAN = "SAVINGS_PLAN"
    SCHEDULE = "SCHEDULE"
    STORAGE_TIER = "STORAGE_TIER"
    TERMINATE = "TERMINATE"

    def __str__(self) -> str:
        return str(self.value)
