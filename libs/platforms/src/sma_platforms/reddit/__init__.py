"""Reddit: application-only OAuth, subreddits by `/api/info?sr_name=` and users by
`/api/user_data_by_account_ids`, each batched by 100, subreddit and user resolution."""

from sma_platforms.reddit.client import RedditAdapter

__all__ = ["RedditAdapter"]
