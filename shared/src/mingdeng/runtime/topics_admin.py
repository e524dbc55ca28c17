"""Create the platform's topics from the one definition in `mingdeng.contracts.topics`."""

from __future__ import annotations

import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from mingdeng.contracts.topics import ALL_TOPICS, Topic
from mingdeng.runtime.settings import KafkaSettings

log = logging.getLogger(__name__)


def ensure_topics(kafka: KafkaSettings, topics: tuple[Topic, ...] = ALL_TOPICS) -> list[str]:
    """Create the missing topics; return the names created. Existing topics are left as they are."""
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers, client_id="mingdeng-admin")
    try:
        existing = set(admin.list_topics())
        missing = [topic for topic in topics if kafka.topic(topic) not in existing]
        created = []
        for topic in missing:
            name = kafka.topic(topic)
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            name=name,
                            num_partitions=topic.partitions,
                            replication_factor=kafka.replication_factor,
                            topic_configs=topic.config,
                        )
                    ]
                )
                created.append(name)
                log.info("created topic %s (%d partitions)", name, topic.partitions)
            except TopicAlreadyExistsError:
                log.info("topic %s was created meanwhile", name)
        return created
    finally:
        admin.close()
