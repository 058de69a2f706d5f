"""sma_devstack: embedded servers (PostgreSQL, a Redis-protocol server, a Kafka-protocol broker)
and the whole-stack runner, shared by `make run|up|down` and the test fixtures so the two can
never start the stack differently. Development and test only: never deployed."""

from sma_devstack.kafka import EmbeddedKafka
from sma_devstack.ports import free_port, port_is_free, wait_for_port
from sma_devstack.postgres import EmbeddedPostgres
from sma_devstack.redis import EmbeddedRedis

__all__ = ["EmbeddedKafka", "EmbeddedPostgres", "EmbeddedRedis", "free_port", "port_is_free", "wait_for_port"]
