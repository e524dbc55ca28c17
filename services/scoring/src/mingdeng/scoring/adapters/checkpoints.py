"""The engine's checkpoint on local disk: written whole to a temporary file, made durable, then
renamed over the previous one, so a crash at any moment leaves the old or the new one."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

MAGIC = b"MINGDENG-SCORING-CHECKPOINT\n"


class CheckpointFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, blob: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("wb") as file:
            file.write(MAGIC + hashlib.sha256(blob).digest() + blob)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def load(self) -> bytes | None:
        """The last checkpoint saved, or None when there is none or it does not check out."""
        try:
            content = self.path.read_bytes()
        except FileNotFoundError:
            return None
        head, digest, blob = (
            content[: len(MAGIC)],
            content[len(MAGIC) : len(MAGIC) + 32],
            content[len(MAGIC) + 32 :],
        )
        if head != MAGIC or hashlib.sha256(blob).digest() != digest:
            log.warning("ignoring %s: it is not a whole checkpoint", self.path)
            return None
        return blob

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
