from __future__ import annotations

import logging
import os

# Client libraries log every connection at INFO; their warnings are what matters to ops.
_CHATTY = ("kafka", "aiokafka", "asyncio")


def configure_logging(service: str) -> None:
    logging.basicConfig(
        level=os.environ.get("MINGDENG_LOG_LEVEL", "INFO"),
        format=f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s",
    )
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)
