"""sma_platforms: the social platforms' API clients, shared by the collector (fetch) and the
gateway (resolve). The public surface is this module; platform packages are internals."""

from sma_platforms.base import (
    FetchResult,
    FetchTarget,
    ItemResult,
    Observation,
    Outcome,
    PlatformAdapter,
    RateLimitState,
    ResolvedAccount,
)
from sma_platforms.registry import AdapterSet, build_adapters

__all__ = [
    "AdapterSet",
    "FetchResult",
    "FetchTarget",
    "ItemResult",
    "Observation",
    "Outcome",
    "PlatformAdapter",
    "RateLimitState",
    "ResolvedAccount",
    "build_adapters",
]
