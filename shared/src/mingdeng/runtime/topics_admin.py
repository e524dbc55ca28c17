"""Create the platform's topics from the one definition in `mingdeng.contracts.topics`."""

from __future__ import annotations

import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from mingdeng.contracts.topics import ALL_TOPICS, Topic

log = logging.getLogger(__name__)


def ensure_topics(
    bootstrap_servers: str, replication_factor: int, topics: tuple[Topic, ...] = ALL_TOPICS
) -> list[str]:
    """Create the missing topics; return the names created. Existing topics are left as they are."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="mingdeng-admin")
    try:
        existing = set(admin.list_topics())
        missing = [topic for topic in topics if topic.name not in existing]
        created = []
        for topic in missing:
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            name=topic.name,
                            num_partitions=topic.partitions,
                            replication_factor=replication_factor,
                            topic_configs=topic.config,
                        )
                    ]
                )
                created.append(topic.name)
                log.info("created topic %s (%d partitions)", topic.name, topic.partitions)
            except TopicAlreadyExistsError:
                log.info("topic %s was created meanwhile", topic.name)
        return created
    finally:
        admin.close()
