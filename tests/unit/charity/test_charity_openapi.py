"""/openapi.json is complete: every field of every shape is described with an example, every
parameter too, and the error answers (401/403/404/409/422) are documented where they happen."""

from __future__ import annotations

from typing import Any

import pytest

from services.charity.app import build
from services.charity.settings import CharitySettings

FRAMEWORK = {"HTTPValidationError", "ValidationError"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    _, http = build(CharitySettings())
    return http.openapi()


def _has_example(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "examples" in schema or "example" in schema:
        return True
    ref = schema.get("$ref") or next((s.get("$ref") for s in schema.get("anyOf", []) + schema.get("allOf", []) if "$ref" in s), None)
    if ref:  # a nested shape: its own fields carry the examples
        return True
    return schema.get("type") == "array" and "$ref" in schema.get("items", {})


def test_every_field_is_described_with_an_example(spec: dict[str, Any]) -> None:
    components = spec["components"]["schemas"]
    missing = [
        f"{name}.{field}: {'description' if 'description' not in schema else 'example'}"
        for name, component in components.items() if name not in FRAMEWORK
        for field, schema in component.get("properties", {}).items()
        if "description" not in schema or not _has_example(schema, components)
    ]
    assert missing == []


def test_every_parameter_is_described(spec: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path} {parameter['name']}"
        for path, operations in spec["paths"].items() for method, operation in operations.items()
        for parameter in operation.get("parameters", []) if "description" not in parameter and "description" not in parameter.get("schema", {})
    ]
    assert missing == []


def test_error_answers_are_documented(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    assert {"401", "403", "404", "409"} <= set(paths["/inbox/{match_id}/accept"]["post"]["responses"])
    assert {"401", "403", "404", "409", "422"} <= set(paths["/offerings/{offering_id}"]["patch"]["responses"])
    assert {"401", "403"} <= set(paths["/stats/social-forces"]["get"]["responses"])
    assert "401" not in paths["/public/offerings"]["get"]["responses"]
    protected = [
        f"{method.upper()} {path}" for path, operations in paths.items() for method, operation in operations.items()
        if path not in ("/health", "/metrics", "/public/offerings") and not (path == "/organisations" and method == "post")
        and "401" not in operation["responses"]
    ]
    assert protected == []
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
