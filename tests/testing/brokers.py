"""Checks the broker fixtures' tests share: which processes a server runs on, and waiting."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path


def group_members(pgid: int) -> set[int]:
    """Every live process in process group ``pgid`` (zombies count as gone)."""
    members: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ')'
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.add(int(entry.name))
    return members


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and os.path.exists(f"/proc/{pid}")


async def eventually(check: Callable[[], bool], *, timeout: float = 15.0) -> None:
    """Wait until ``check()`` holds; fail with the timeout otherwise (no timing is asserted)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


@contextlib.contextmanager
def holder(*arguments: str) -> Iterator[subprocess.Popen[str]]:
    """``_holder.py ARGUMENTS`` in a process of its own, once its consumer is subscribed."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_holder.py")), *arguments],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready", "the holder did not subscribe"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
