"""The scheduled-run jobs of deploy/ (a Kubernetes CronJob, a Container Apps job) work.

Both run the same few lines of Python in the service's image; here those lines run
against a live service, so a change to the API that breaks them fails here.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def job_script(document: dict[str, Any]) -> str:
    """The ``python -c`` script of a job's only container."""
    containers = document.get("spec", {}).get("jobTemplate", {}).get("spec", {})
    if containers:
        (container,) = containers["template"]["spec"]["containers"]
    else:
        (container,) = document["properties"]["template"]["containers"]
    command = container["command"]
    assert command[:2] == ["python", "-c"]
    return str(command[2])


def scripts() -> list[str]:
    cronjob = yaml.safe_load((DEPLOY / "kubernetes" / "cronjob.yaml").read_text())
    azure_job = yaml.safe_load((DEPLOY / "azure" / "job-schedule.yaml").read_text())
    return [job_script(cronjob), job_script(azure_job)]


def test_both_platforms_run_the_same_script() -> None:
    kubernetes, azure = scripts()
    assert kubernetes == azure


async def start_scheduled_run(url: str, key: str) -> tuple[int, str]:
    env = {**os.environ, "ASCENT_URL": url, "ASCENT_AGENT": "Echo", "ASCENT_API_KEY": key}
    env["ASCENT_INPUT"] = "the nightly report"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        scripts()[0],
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, (out or err).decode()


@pytest.mark.asyncio(loop_scope="package")
async def test_the_job_queues_one_run_per_day(live_url: str) -> None:
    code, printed = await start_scheduled_run(live_url, "key-acme")
    assert code == 0, printed
    status, run_id = printed.split()
    assert status in {"200", "202"}
    again_code, again = await start_scheduled_run(live_url, "key-acme")
    assert again_code == 0 and again.split()[1] == run_id  # a retried job: the same run
    async with httpx.AsyncClient(
        base_url=live_url, headers={"Authorization": "Bearer key-acme"}
    ) as client:
        record = (await client.get(f"/v1/runs/{run_id}")).json()
    assert record["agent"] == "Echo"


@pytest.mark.asyncio(loop_scope="package")
async def test_the_job_fails_loudly_with_a_wrong_key(live_url: str) -> None:
    code, printed = await start_scheduled_run(live_url, "not-a-key")
    assert code != 0
    assert "401" in printed
