"""Every deployment file passes the offline checks a reviewer would run on it.

The linters live in their own locked environment (`deploy/checks/`, synced by CI):
checkov pins ``packaging<24``, which the library's own dependencies cannot share.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHECKS_BIN = DEPLOY / "checks" / ".venv" / "bin"
SCHEMAS = DEPLOY / "checks" / "schemas"
KUBERNETES = DEPLOY / "kubernetes"
DOCKERFILES = [ROOT / "Dockerfile", *sorted(DEPLOY.rglob("Dockerfile*"))]

# Custom resources have no schema in kubernetes-validate: these files (written from the
# projects' references, stricter than their CRDs) check them instead.
CUSTOM_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda-scaledobject.yaml",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda-triggerauthentication.yaml",
    ("dapr.io/v1alpha1", "Component"): "dapr-component.yaml",
}


def tool(name: str) -> str:
    path = CHECKS_BIN / name
    if not path.exists():
        message = f"{name} is missing: run `uv sync --locked --project deploy/checks`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return str(path)


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def documents(path: Path) -> Iterator[dict[str, Any]]:
    yield from (doc for doc in yaml.safe_load_all(path.read_text()) if doc)


def kubernetes_files() -> list[Path]:
    return sorted(KUBERNETES.rglob("*.yaml"))


def validator(schema_file: str) -> Draft202012Validator:
    resources = []
    for path in SCHEMAS.glob("*.yaml"):
        contents = yaml.safe_load(path.read_text())
        resources.append((path.name, Resource.from_contents(contents, DRAFT202012)))
    registry: Registry[Any] = Registry().with_resources(resources)
    return Draft202012Validator(registry.contents(schema_file), registry=registry)


def schema_errors(schema_file: str, document: dict[str, Any]) -> list[str]:
    return [error.message for error in validator(schema_file).iter_errors(document)]


# --------------------------------------------------------------------------- hadolint


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfiles_have_no_hadolint_warning(dockerfile: Path) -> None:
    result = run(tool("hadolint"), "--no-color", "--failure-threshold", "warning", str(dockerfile))
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_reports_an_unpinned_install(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:bookworm\nRUN apt-get update && apt-get install -y curl\n")
    result = run(tool("hadolint"), "--no-color", "--failure-threshold", "warning", str(bad))
    assert result.returncode != 0
    assert "DL3008" in result.stdout  # unpinned apt package


# ---------------------------------------------------------------- Kubernetes manifests


def test_the_kubernetes_rung_has_every_part_the_ladder_needs() -> None:
    kinds = {doc["kind"] for path in kubernetes_files() for doc in documents(path)}
    assert {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "ScaledObject",
        "CronJob",
        "PodDisruptionBudget",
        "Component",
        "NetworkPolicy",
    } <= kinds
    (deployment,) = documents(KUBERNETES / "deployment.yaml")
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["annotations"]["dapr.io/enabled"] == "true"
    (container,) = pod["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    components = {doc["spec"]["type"] for doc in documents(KUBERNETES / "dapr" / "pubsub.yaml")} | {
        doc["spec"]["type"] for doc in documents(KUBERNETES / "dapr" / "statestore.yaml")
    }
    assert components == {"pubsub.rabbitmq", "state.postgresql"}


@pytest.mark.parametrize("path", kubernetes_files(), ids=lambda p: str(p.relative_to(KUBERNETES)))
def test_kubernetes_manifests_validate_strictly(path: Path) -> None:
    kinds = {(doc["apiVersion"], doc["kind"]) for doc in documents(path)}
    if kinds - CUSTOM_KINDS.keys():
        result = run(tool("kubernetes-validate"), "--strict", "--no-warn", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "passed" in result.stdout
    for doc in documents(path):
        schema = CUSTOM_KINDS.get((doc["apiVersion"], doc["kind"]))
        if schema:
            assert schema_errors(schema, doc) == [], f"{path.name}: {doc['kind']}"


def test_strict_validation_refuses_an_unknown_field(tmp_path: Path) -> None:
    (deployment,) = documents(KUBERNETES / "deployment.yaml")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    bad = tmp_path / "deployment.yaml"
    bad.write_text(yaml.safe_dump(deployment))
    result = run(tool("kubernetes-validate"), "--strict", "--quiet", str(bad))
    assert result.returncode != 0
    assert "livenessProbes" in result.stdout + result.stderr


def test_custom_resource_schemas_refuse_what_the_operators_would() -> None:
    (scaled, _auth) = documents(KUBERNETES / "keda-scaledobject.yaml")
    scaled["spec"]["triggers"][0]["metdata"] = scaled["spec"]["triggers"][0].pop("metadata")
    assert schema_errors("keda-scaledobject.yaml", scaled)
    (component,) = documents(KUBERNETES / "dapr" / "pubsub.yaml")
    component["spec"]["type"] = "rabbitmq"  # missing the building block prefix
    assert schema_errors("dapr-component.yaml", component)


# ------------------------------------------------------------------------------ checkov


def checkov(*arguments: str) -> dict[str, Any]:
    options = ("--skip-download", "--quiet", "--compact", "-o", "json")
    result = run(tool("checkov"), *options, *arguments)
    assert result.stdout, result.stderr
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, dict) else {"results": _merge(reports)}


def _merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    failed = [check for report in reports for check in report["results"]["failed_checks"]]
    return {"failed_checks": failed}


def failures(report: dict[str, Any]) -> list[str]:
    results = report.get("results", {})
    return [
        f"{check['check_id']} {check['check_name']} ({check['file_path']})"
        for check in results.get("failed_checks", [])
    ]


def test_checkov_passes_the_kubernetes_manifests() -> None:
    report = checkov("-d", str(KUBERNETES), "--framework", "kubernetes")
    assert failures(report) == []


def test_checkov_passes_the_dockerfiles() -> None:
    arguments = [argument for path in DOCKERFILES for argument in ("-f", str(path))]
    report = checkov(*arguments, "--framework", "dockerfile")
    assert failures(report) == []


def test_no_secret_sits_in_a_deployment_file() -> None:
    report = checkov("-d", str(DEPLOY), "--framework", "secrets")
    assert failures(report) == []


def test_checkov_finds_an_inline_password(tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_text(
        "services:\n  db:\n    image: postgres:15\n    environment:\n"
        "      POSTGRES_PASSWORD: Zk8#xQ2!vLr9@pW4\n"
        "      AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    )
    report = checkov("-d", str(tmp_path), "--framework", "secrets")
    assert failures(report)


# --------------------------------------------------------------------- Azure, Hugging Face


@pytest.mark.parametrize(
    ("file", "schema"),
    [("containerapp.yaml", "azure-containerapp.yaml"), ("job-schedule.yaml", "azure-job.yaml")],
)
def test_azure_files_match_the_container_apps_schema(file: str, schema: str) -> None:
    (document,) = documents(DEPLOY / "azure" / file)
    assert schema_errors(schema, document) == []


def test_the_container_app_scales_on_http_and_on_the_queue() -> None:
    (app,) = documents(DEPLOY / "azure" / "containerapp.yaml")
    rules = app["properties"]["template"]["scale"]["rules"]
    assert {"http", "custom"} == {key for rule in rules for key in rule if key != "name"}
    (queue,) = [rule["custom"] for rule in rules if "custom" in rule]
    assert queue["type"] == "rabbitmq" and queue["metadata"]["mode"] == "QueueLength"
    inline = dict(app)
    inline["properties"]["configuration"]["secrets"][0]["value"] = "hunter2"
    assert schema_errors("azure-containerapp.yaml", inline)  # no inline secrets


def test_the_space_header_serves_port_7860_from_the_docker_sdk() -> None:
    text = (DEPLOY / "huggingface" / "README.md").read_text()
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, "a Space README starts with its YAML header"
    header = yaml.safe_load(match.group(1))
    assert header["sdk"] == "docker"
    assert header["app_port"] == 7860
    assert "PORT" in text and "7860" in text


def test_the_image_runs_as_the_user_id_spaces_use() -> None:
    final_stage = (ROOT / "Dockerfile").read_text().split("\nFROM ")[-1]
    users = re.findall(r"^USER (\S+)", final_stage, re.MULTILINE)
    assert users and users[-1].split(":")[0] == "1000"
