"""Test configuration: real servers for the whole session, isolated state per test."""

pytest_plugins = [
    "tests.fixtures.environment",
    "tests.fixtures.limiter",
    "tests.fixtures.servers",
    "tests.fixtures.services",
    "tests.fixtures.simulator",
    "tests.fixtures.stack",
]
