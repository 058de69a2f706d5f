from sma_common.entrypoint import run_service
from sma_scheduler.app import build
from sma_scheduler.settings import SchedulerSettings

run_service("scheduler", SchedulerSettings, build)
