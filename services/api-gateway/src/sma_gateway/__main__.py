"""`python -m sma_gateway`: load settings, configure logging, build and run the gateway."""

import asyncio
import sys

from sma_common.logging import configure_logging
from sma_gateway.app import SERVICE_NAME, build
from sma_gateway.settings import GatewaySettings

if __name__ == "__main__":
    settings = GatewaySettings()
    configure_logging(settings.log_level, settings.log_format, service=SERVICE_NAME)
    sys.exit(asyncio.run(build(settings).run()))
