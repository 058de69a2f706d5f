from sma_collector.app import build
from sma_collector.settings import CollectorSettings
from sma_common.entrypoint import run_service

run_service("collector", CollectorSettings, build)
