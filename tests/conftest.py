"""Test configuration: real servers for the whole session, isolated state per test."""

import os

# The fault suite (about five minutes of killed processes and restarted servers) runs as its own
# nightly-style target, `make test-faults` (SMA_FAULTS=1), not in `make test`.
collect_ignore = [] if os.environ.get("SMA_FAULTS") == "1" else ["faults"]

pytest_plugins = [
    "tests.fixtures.environment",
    "tests.fixtures.limiter",
    "tests.fixtures.servers",
    "tests.fixtures.services",
    "tests.fixtures.simulator",
    "tests.fixtures.stack",
]
