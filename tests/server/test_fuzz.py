"""A schema-based fuzz of the OpenAPI spec (schemathesis): no input gets a 5xx.

Every operation gets a few generated requests, valid and invalid ones, against
the app behind a real uvicorn; each response must be a non-5xx with a status,
content type and body that the schema documents.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [
    pytest.mark.asyncio(loop_scope="package"),
    # schemathesis's own strategies use `random`; not this suite's concern
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 4


def _fuzz(base_url: str) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    headers = {"Authorization": "Bearer key-acme"}
    tried: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        fixed = {"name": "Echo"} if "{name}" in operation.path else None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:  # nothing to make invalid: no parameters, no body
                assert mode is GenerationMode.NEGATIVE
                continue
            tried.append(f"{operation.label} ({mode.value})")
    return tried


@pytest.fixture(autouse=True)
def _hypothesis_files_in_tmp(tmp_path: Path) -> Iterator[None]:
    """Hypothesis caches what it learns under .hypothesis/: keep that out of the checkout."""
    set_hypothesis_home_dir(tmp_path / "hypothesis")
    yield
    set_hypothesis_home_dir(None)


async def test_no_generated_request_gets_a_server_error(live_url: str) -> None:
    tried = await asyncio.to_thread(_fuzz, live_url)
    # every operation with valid data; those with inputs with invalid data too
    assert len([label for label in tried if "positive" in label]) == 18
    assert len([label for label in tried if "negative" in label]) == 15
