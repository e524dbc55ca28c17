from __future__ import annotations

import os
from pathlib import Path

from mingdeng.runtime.checkpoints import CheckpointFile


def reap(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_forked_writer_saves_the_state_as_of_the_fork(tmp_path: Path) -> None:
    checkpoints = CheckpointFile(tmp_path / "engine.checkpoint")
    state = bytearray(b"as of the fork")
    pid = checkpoints.save_forked(lambda: bytes(state))
    state[:] = b"changed after"  # the child has its own copy of memory
    assert reap(pid) == 0
    assert checkpoints.load() == b"as of the fork"


def test_a_writer_that_fails_leaves_the_previous_checkpoint(tmp_path: Path) -> None:
    checkpoints = CheckpointFile(tmp_path / "engine.checkpoint")
    checkpoints.save(b"previous")

    def broken() -> bytes:
        raise RuntimeError("cannot pickle")

    assert reap(checkpoints.save_forked(broken)) == 1
    assert checkpoints.load() == b"previous"


def test_a_torn_file_is_not_taken_and_leftovers_are_removed(tmp_path: Path) -> None:
    checkpoints = CheckpointFile(tmp_path / "engine.checkpoint")
    checkpoints.save(b"whole")
    content = checkpoints.path.read_bytes()
    checkpoints.path.write_bytes(content[:-2])
    assert checkpoints.load() is None
    leftover = tmp_path / "engine.checkpoint.4242.tmp"
    leftover.write_bytes(b"half")
    checkpoints.remove_leftovers()
    assert not leftover.exists() and checkpoints.path.exists()
