"""The platforms SMA tracks and the static facts every service agrees on."""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    TWITCH = "twitch"
    YOUTUBE = "youtube"
    X = "x"
    REDDIT = "reddit"
    BLUESKY = "bluesky"
    MASTODON = "mastodon"


# Accounts one API call can refresh (platform-apis.md). The scheduler batches to these.
MAX_BATCH_SIZE: dict[Platform, int] = {
    Platform.TWITCH: 100,
    Platform.YOUTUBE: 50,
    Platform.X: 100,
    Platform.REDDIT: 100,
    Platform.BLUESKY: 25,
    Platform.MASTODON: 40,
}

# The contract's metric catalogue (ARCHITECTURE.md), with the smallint ids stored in Postgres.
METRIC_IDS: dict[str, int] = {
    "followers": 1,
    "following": 2,
    "posts": 3,
    "listed": 4,
    "subscribers": 5,
    "views": 6,
    "videos": 7,
    "live_viewers": 8,
    "is_live": 9,
    "karma_link": 10,
    "karma_comment": 11,
    "karma_total": 12,
    "active_users": 13,
}

# Figures the platform itself rounds before we see them; stored as returned, flagged `rounded` by the API.
# YouTube's Data API rounds `subscriberCount` down to three significant figures (since September 2019).
ROUNDED_METRICS: frozenset[tuple[Platform, str]] = frozenset({(Platform.YOUTUBE, "subscribers")})


def is_rounded(platform: Platform, metric: str) -> bool:
    """Whether the platform reports `metric` rounded, so the stored value is approximate."""
    return (platform, metric) in ROUNDED_METRICS

EXECUTION_STATUSES = ("success", "failed", "rate_limited", "auth_error", "not_found", "timeout")

# Platforms whose accounts go live (and so may be polled faster while live).
LIVE_PLATFORMS: frozenset[Platform] = frozenset({Platform.TWITCH})


def batch_group(platform: Platform, external_id: str) -> str:
    """Which accounts one API call can read together: a Mastodon call reads one instance (ids are
    `<instance>:<id>`), a Reddit call reads subreddits (`t5_`) or users (`t2_`); other platforms
    batch any of their accounts together ("")."""
    if platform is Platform.MASTODON:
        return external_id.partition(":")[0].lower()
    if platform is Platform.REDDIT:
        return external_id[:3]
    return ""
