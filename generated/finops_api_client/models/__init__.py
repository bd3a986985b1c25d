"""Contains all the data models used in inputs/outputs"""

from .anomaly_page import AnomalyPage
from .api_error import Error
from .approval import Approval
from .approval_request import ApprovalRequest
from .approval_status import ApprovalStatus
from .budget_forecast import BudgetForecast
from .budget_forecast_page import BudgetForecastPage
from .budget_forecast_tags import BudgetForecastTags
from .cost_anomaly import CostAnomaly
from .cost_optimization import CostOptimization
from .error_detail import ErrorDetail
from .error_detail_details import ErrorDetailDetails
from .health_status import HealthStatus
from .health_status_status import HealthStatusStatus
from .ingest_rejection import IngestRejection
from .ingest_result import IngestResult
from .optimization_page import OptimizationPage
from .optimization_status import OptimizationStatus
from .optimization_type import OptimizationType
from .resource_inventory import ResourceInventory
from .resource_inventory_tags import ResourceInventoryTags
from .resource_inventory_utilization_metrics import ResourceInventoryUtilizationMetrics
from .resource_page import ResourcePage
from .risk_level import RiskLevel
from .severity import Severity

__all__ = (
    "AnomalyPage",
    "Approval",
    "ApprovalRequest",
    "ApprovalStatus",
    "BudgetForecast",
    "BudgetForecastPage",
    "BudgetForecastTags",
    "CostAnomaly",
    "CostOptimization",
    "Error",
    "ErrorDetail",
    "ErrorDetailDetails",
    "HealthStatus",
    "HealthStatusStatus",
    "IngestRejection",
    "IngestResult",
    "OptimizationPage",
    "OptimizationStatus",
    "OptimizationType",
    "ResourceInventory",
    "ResourceInventoryTags",
    "ResourceInventoryUtilizationMetrics",
    "ResourcePage",
    "RiskLevel",
    "Severity",
)
