"""The typed application keys under which `app.build()` stores the handlers' dependencies, once."""

from __future__ import annotations

from aiohttp import web

from sma_common.clock import Clock
from sma_common.db import DatabasePool
from sma_gateway.adapters import Adapters
from sma_gateway.auth import KeyRevocations
from sma_gateway.budgets import BudgetReader
from sma_gateway.cache import ReadThroughCache
from sma_gateway.hot_path import HotReads
from sma_gateway.settings import GatewaySettings

SETTINGS = web.AppKey("settings", GatewaySettings)
DATABASE = web.AppKey("database", DatabasePool)
CACHE = web.AppKey("cache", ReadThroughCache)
ADAPTERS: web.AppKey[Adapters] = web.AppKey("adapters")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
BUDGETS = web.AppKey("budgets", BudgetReader)
KEY_EVENTS = web.AppKey("key_events", KeyRevocations)
HOT_READS = web.AppKey("hot_reads", HotReads)
