"""Outgoing messages of the notifier, each in its newest status (by `updated_at`)."""

from __future__ import annotations

from mingdeng.contracts.derived import Notification
from mingdeng.gateway.adapters.read_models.base import upserted

READ_MODEL = upserted(
    "notifications",
    Notification,
    """INSERT INTO notifications VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (key) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
           body = EXCLUDED.body
       WHERE notifications.updated_at <= EXCLUDED.updated_at""",
    lambda message: (
        message.key,
        message.recipient_id,
        message.status,
        message.updated_at,
        message.model_dump_json(),
    ),
)
