from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sma_common.errors import NotFound
from sma_platforms import Observation, Outcome
from sma_platforms.http import HttpReply, classify, describe
from sma_platforms.payload import MalformedResponse
from sma_platforms.youtube.parse import (
    ChannelRef,
    YouTubeChannel,
    is_quota_exceeded,
    parse_channel,
    parse_channel_ref,
    parse_channels,
    quota_reset_at,
    refine_outcome,
)

GOOGLE_DEVS = "UC_x5XG1OV2P6uZZ5FSM9Ttw"
GOOGLE = "UCK8sQmJBp8GCxrOtXWBpyEA"


def _channel(channel_id: str, handle: str | None = None, **statistics: object) -> dict[str, object]:
    item: dict[str, object] = {"kind": "youtube#channel", "etag": "e", "id": channel_id}
    if handle is not None:
        item["snippet"] = {"title": handle.removeprefix("@").title(), "customUrl": handle,
                           "publishedAt": "2007-08-23T00:34:43Z"}
    if statistics:
        item["statistics"] = statistics
    return item


def _google_error(code: int, reason: str, domain: str = "global", **extra: object) -> dict[str, object]:
    message = extra.pop("message", "error")
    return {"error": {"code": code, "message": message,
                      "errors": [{"message": message, "domain": domain, "reason": reason}], **extra}}


@pytest.mark.parametrize(
    ("raw", "observations"),
    [
        (  # counts are strings; subscribers stored as returned (rounded to 3 significant figures)
            _channel(GOOGLE, "@google", viewCount="3331930783", subscriberCount="10700000",
                     hiddenSubscriberCount=False, videoCount="2678"),
            (Observation("subscribers", 10_700_000.0), Observation("views", 3_331_930_783.0),
             Observation("videos", 2678.0)),
        ),
        (  # a hidden count is no point, never 0
            _channel(GOOGLE_DEVS, viewCount="5", hiddenSubscriberCount=True, videoCount="1"),
            (Observation("views", 5.0), Observation("videos", 1.0)),
        ),
        (  # hidden wins even if a count slipped through; legacy commentCount is ignored
            _channel(GOOGLE_DEVS, viewCount="5", subscriberCount="0", hiddenSubscriberCount=True,
                     commentCount="0", videoCount="0"),
            (Observation("views", 5.0), Observation("videos", 0.0)),
        ),
        (_channel(GOOGLE_DEVS, "@googledevelopers"), ()),
    ],
)
def test_parse_channel(raw: dict[str, object], observations: tuple[Observation, ...]) -> None:
    channel = parse_channel(raw)
    assert channel.id == raw["id"]
    assert channel.observations == observations


def test_parse_channels_keys_by_id_whatever_the_order() -> None:
    body = {"kind": "youtube#channelListResponse", "pageInfo": {"totalResults": 2, "resultsPerPage": 50},
            "items": [_channel(GOOGLE, "@google"), _channel(GOOGLE_DEVS, "@googledevelopers")]}
    channels = parse_channels(body)
    assert list(channels) == [GOOGLE, GOOGLE_DEVS]
    assert channels[GOOGLE_DEVS] == YouTubeChannel(GOOGLE_DEVS, "@googledevelopers", "Googledevelopers", ())


def test_no_items_key_means_nothing_found() -> None:
    body = {"etag": "x", "kind": "youtube#channelListResponse", "pageInfo": {"resultsPerPage": 5, "totalResults": 0}}
    assert parse_channels(body) == {}


@pytest.mark.parametrize("body", [None, [], {"items": {}}, {"items": [{"kind": "youtube#channel"}]},
                                  {"items": [{"id": GOOGLE, "statistics": []}]}])
def test_parse_channels_rejects_malformed(body: object) -> None:
    with pytest.raises(MalformedResponse):
        parse_channels(body)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (403, _google_error(403, "quotaExceeded", "youtube.quota"), Outcome.RATE_LIMITED),
        (403, _google_error(403, "dailyLimitExceeded", "usageLimits"), Outcome.RATE_LIMITED),
        (403, _google_error(403, "userRateLimitExceeded", "usageLimits"), Outcome.RATE_LIMITED),
        (403, _google_error(403, "rateLimitExceeded", "usageLimits"), Outcome.RATE_LIMITED),
        (400, _google_error(400, "keyInvalid", "usageLimits", message="Bad Request"), Outcome.AUTH_ERROR),
        (400, _google_error(400, "badRequest", message="API key not valid. Please pass a valid API key.",
                            status="INVALID_ARGUMENT", details=[{"reason": "API_KEY_INVALID"}]), Outcome.AUTH_ERROR),
        (403, _google_error(403, "SERVICE_UNAVAILABLE", "youtube.CoreErrorDomain", status="PERMISSION_DENIED"),
         Outcome.AUTH_ERROR),
        (403, _google_error(403, "forbidden"), Outcome.AUTH_ERROR),
        (403, _google_error(403, "accessNotConfigured", "usageLimits"), Outcome.AUTH_ERROR),
        (403, "<html>Forbidden</html>", Outcome.AUTH_ERROR),
        (400, _google_error(400, "invalidParameter", "youtube.parameter"), Outcome.FAILED),
        (500, _google_error(500, "backendError"), Outcome.FAILED),
        (200, {"kind": "youtube#channelListResponse"}, Outcome.SUCCESS),
    ],
)
def test_classify(status: int, body: object, expected: Outcome) -> None:
    assert classify(status, body, refine=refine_outcome) is expected


@pytest.mark.parametrize(
    ("reason", "daily_quota"),
    [("quotaExceeded", True), ("dailyLimitExceeded", True), ("userRateLimitExceeded", False),
     ("rateLimitExceeded", False), ("forbidden", False)],
)
def test_only_the_daily_quota_lasts_until_pacific_midnight(reason: str, daily_quota: bool) -> None:
    assert is_quota_exceeded(403, _google_error(403, reason, "usageLimits")) is daily_quota


def test_describe_reads_the_google_envelope() -> None:
    reply = HttpReply(400, _google_error(400, "badRequest", message="API key not valid. Please pass a valid API key."))
    assert describe(reply) == "HTTP 400: API key not valid. Please pass a valid API key."


@pytest.mark.parametrize(
    ("now", "reset"),
    [
        (datetime(2026, 3, 1, 12, 0, tzinfo=UTC), datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),  # PST, UTC-8
        (datetime(2026, 3, 2, 7, 59, tzinfo=UTC), datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),
        (datetime(2026, 3, 2, 8, 0, tzinfo=UTC), datetime(2026, 3, 3, 8, 0, tzinfo=UTC)),
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), datetime(2026, 7, 2, 7, 0, tzinfo=UTC)),  # PDT, UTC-7
        (datetime(2026, 3, 8, 12, 0, tzinfo=UTC), datetime(2026, 3, 9, 7, 0, tzinfo=UTC)),  # DST starts 3/8
    ],
)
def test_quota_resets_at_pacific_midnight(now: datetime, reset: datetime) -> None:
    assert quota_reset_at(now) == reset


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        (GOOGLE_DEVS, ChannelRef("id", GOOGLE_DEVS)),
        (f"https://www.youtube.com/channel/{GOOGLE_DEVS}", ChannelRef("id", GOOGLE_DEVS)),
        (f"youtube.com/channel/{GOOGLE_DEVS}/videos", ChannelRef("id", GOOGLE_DEVS)),
        ("@GoogleDevelopers", ChannelRef("handle", "@googledevelopers")),
        ("smademo", ChannelRef("handle", "@smademo")),
        ("https://www.youtube.com/@smademo", ChannelRef("handle", "@smademo")),
        ("m.youtube.com/@sma.demo-1/videos", ChannelRef("handle", "@sma.demo-1")),
    ],
)
def test_parse_channel_ref(account: str, expected: ChannelRef) -> None:
    assert parse_channel_ref(account) == expected


@pytest.mark.parametrize(
    "account",
    ["", "@", "@ab", "not a handle", "https://www.youtube.com/channel/UCshort", "https://twitch.tv/@smademo",
     "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "@" + "x" * 31],
)
def test_parse_channel_ref_rejects_what_names_no_channel(account: str) -> None:
    with pytest.raises(NotFound):
        parse_channel_ref(account)
