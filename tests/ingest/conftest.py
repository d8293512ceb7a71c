"""Fixtures of the receiver's tests."""

from __future__ import annotations

import pytest

from .console_stack import start_stack


@pytest.fixture
async def stack(start_waitpoint, aiohttp_client):
    """stack(access=None, queues=None): a worker node, the receiver and a console."""

    async def make(access=None, queues=None):
        return await start_stack(start_waitpoint, aiohttp_client, access, queues)

    return make
