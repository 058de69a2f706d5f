import asyncio

from aiokafka import AIOKafkaProducer, TopicPartition

from sma_common.kafka import KafkaConsumer
from sma_common.settings import KafkaSettings
from tests.fixtures.servers import KafkaNames


async def test_lag_counts_what_is_not_consumed_including_a_partition_sent_back(kafka: KafkaNames) -> None:
    settings = KafkaSettings(kafka_bootstrap_servers=kafka.bootstrap, kafka_commands_topic=kafka.commands_topic,
                             kafka_dlq_topic=kafka.dlq_topic, kafka_consumer_group=kafka.group,
                             kafka_topic_partitions=1, kafka_session_timeout_ms=3000)
    consumer = KafkaConsumer(settings, client_id="lag-test", max_poll_records=3)
    await consumer.start()
    try:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
        await producer.start()
        for i in range(10):
            await producer.send_and_wait(kafka.commands_topic, f"m{i}".encode())
        await producer.stop()

        tp = TopicPartition(kafka.commands_topic, 0)
        taken = []
        deadline = asyncio.get_running_loop().time() + 15
        while not taken:
            assert asyncio.get_running_loop().time() < deadline, "nothing consumed"
            taken = (await consumer.consumer.getmany(timeout_ms=200, max_records=3)).get(tp, [])
        assert [r.value for r in taken] == [b"m0", b"m1", b"m2"]
        assert await consumer.refresh_lag() == 7

        # A command that failed is sent back: its partition's lag shows all that waits behind it.
        consumer.consumer.seek(tp, 0)
        assert await consumer.refresh_lag() == 10
        assert consumer.details()["lag"] == 10
    finally:
        await consumer.stop()
