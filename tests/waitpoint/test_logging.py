"""The log writer: whole lines, written once per loop iteration, in pieces that several
processes can share a pipe with."""

from __future__ import annotations

import asyncio

from waitpoint._logging import PIPE_BUF, LoopFlushedLogger


class Recording:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def flush(self) -> None:
        pass


def test_outside_a_loop_each_line_is_written_at_once():
    file = Recording()
    logger = LoopFlushedLogger(file)
    logger.info(b"one")
    logger.warning(b"two")
    assert file.writes == [b"one\n", b"two\n"]


async def test_in_a_loop_lines_wait_for_the_end_of_the_iteration_in_order():
    file = Recording()
    logger = LoopFlushedLogger(file)
    for n in range(5):
        logger.info(b"line %d" % n)
    assert file.writes == []
    await asyncio.sleep(0)
    assert b"".join(file.writes) == b"".join(b"line %d\n" % n for n in range(5))


async def test_writes_are_whole_lines_of_at_most_pipe_buf_bytes():
    file = Recording()
    logger = LoopFlushedLogger(file)
    lines = [b"x" * size for size in (100, 3000, 2000, 4095, 5000, 10, 10)]
    for line in lines:
        logger.info(line)
    await asyncio.sleep(0)
    assert b"".join(file.writes) == b"".join(line + b"\n" for line in lines)
    for data in file.writes:
        assert data.endswith(b"\n")
        assert len(data) <= PIPE_BUF or data.count(b"\n") == 1  # a long line goes alone
