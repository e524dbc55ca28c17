"""The monthly bulletins (督查通报) the notifier writes, one per month."""

from __future__ import annotations

from mingdeng.contracts.derived import Bulletin
from mingdeng.gateway.adapters.read_models.base import upserted

READ_MODEL = upserted(
    "bulletins",
    Bulletin,
    """INSERT INTO bulletins VALUES ($1, $2)
       ON CONFLICT (month) DO UPDATE SET body = EXCLUDED.body""",
    lambda bulletin: (bulletin.month, bulletin.model_dump_json()),
)
