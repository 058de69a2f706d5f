"""Reddit: application-only OAuth, `/api/info?sr_name=` batched by 100, subreddit and user resolution."""

from sma_platforms.reddit.client import RedditAdapter

__all__ = ["RedditAdapter"]
