"""The platform contract: one image, given only each platform's environment, serves.

deploy/check-image.sh builds the image with podman and starts it as Hugging Face Spaces
(uid 1000, ``PORT=7860``, SQLite on ``/data``), Azure Container Apps and Kubernetes (each
with its own variables; a read-only root filesystem there) would, then checks health,
readiness, a run with the API key from the environment and a 401 without it. It needs
root and podman: CI has both (.ci/run's image step installs podman), so there this never
skips; elsewhere it skips without them. It takes about a minute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = ("huggingface", "azure-container-apps", "kubernetes")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def test_the_image_serves_on_each_platform_from_its_environment_alone() -> None:
    if not _in_ci():
        if shutil.which("podman") is None:
            pytest.skip("podman is not installed (deploy/check-image.sh installs it, as root)")
        if os.geteuid() != 0:
            pytest.skip("deploy/check-image.sh runs podman as root")
    result = subprocess.run(
        ["bash", str(ROOT / "deploy" / "check-image.sh"), "contract"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    said = f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert result.returncode == 0, said
    for platform in PLATFORMS:
        assert f"contract: {platform} ok" in result.stdout, said
