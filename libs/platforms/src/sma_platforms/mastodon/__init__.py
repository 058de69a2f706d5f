"""Mastodon: per-instance reads from each account's home instance (4.3+ batch route, per-account
fallback on older servers) and `@user@instance` resolution.

An account's immutable external id is `<instance>:<account id on its home instance>` (ids are
per-server, so the instance is part of the identity); its handle is `user@instance`.
"""

from sma_platforms.mastodon.client import MastodonAdapter

__all__ = ["MastodonAdapter"]
