"""Kafka plumbing: explicit topic creation, the producer and consumer resources, the DLQ."""

from sma_common.kafka.consumer import KafkaConsumer
from sma_common.kafka.producer import KafkaProducer
from sma_common.kafka.topics import TopicSpec, ensure_topics

__all__ = ["KafkaConsumer", "KafkaProducer", "TopicSpec", "ensure_topics"]
