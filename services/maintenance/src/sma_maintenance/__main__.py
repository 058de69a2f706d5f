from sma_common.entrypoint import run_service
from sma_maintenance.app import build
from sma_maintenance.settings import MaintenanceSettings

run_service("maintenance", MaintenanceSettings, build)
