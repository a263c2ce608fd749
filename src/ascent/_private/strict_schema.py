"""Rewrite a Pydantic JSON schema into the subset OpenAI's strict mode accepts.

Strict mode constrains decoding to the schema, so the model cannot send malformed
arguments or outputs. It only understands a subset of JSON Schema: every object
closed (``additionalProperties: false``) with every property required, no
``$ref`` beside other keys, ``anyOf`` rather than ``oneOf``. What cannot be
rewritten (free-form mappings, tuples, untyped values) raises
:class:`StrictSchemaError`, so callers fall back to a non-strict schema.
"""

from __future__ import annotations

from typing import Any

__all__ = ["StrictSchemaError", "ensure_strict_json_schema"]

# Keywords strict mode rejects and that have no strict equivalent.
_UNSUPPORTED = frozenset(
    {
        "prefixItems",
        "not",
        "if",
        "then",
        "else",
        "dependentRequired",
        "dependentSchemas",
        "patternProperties",
        "unevaluatedProperties",
    }
)
# A schema without any of these accepts anything, which strict mode cannot express.
_TYPING_KEYS = ("type", "anyOf", "$ref", "enum", "const")


class StrictSchemaError(ValueError):
    """The schema cannot be made strict; use it as a non-strict schema instead."""


def ensure_strict_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A strict-mode copy of ``schema``; the input is left untouched.

    Raises :class:`StrictSchemaError` when the schema has no strict equivalent.
    """
    if not isinstance(schema, dict):
        raise TypeError(f"expected a JSON schema object, got {type(schema).__name__}")
    return _strict(schema, schema, "#")


def _strict(node: Any, root: dict[str, Any], path: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise StrictSchemaError(f"{path}: expected a schema object, got {node!r}")

    # Normalise first, so the inlined result goes through the same rules.
    if "allOf" in node:
        parts = node["allOf"]
        if not isinstance(parts, list) or len(parts) != 1:
            raise StrictSchemaError(f"{path}: 'allOf' with several schemas is not supported")
        rest = {key: value for key, value in node.items() if key != "allOf"}
        return _strict({**parts[0], **rest}, root, path)
    ref = node.get("$ref")
    if ref is not None and len(node) > 1:
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return _strict({**_resolve(root, ref, path), **siblings}, root, path)
    if "oneOf" in node and "anyOf" in node:
        raise StrictSchemaError(f"{path}: 'oneOf' beside 'anyOf' cannot be expressed")

    out: dict[str, Any] = {}
    for key, value in node.items():
        where = f"{path}/{key}"
        if key in _UNSUPPORTED:
            raise StrictSchemaError(f"{path}: {key!r} is not supported in strict mode")
        if key in ("$defs", "definitions", "properties"):
            out[key] = {name: _strict(sub, root, f"{where}/{name}") for name, sub in value.items()}
        elif key == "items":
            out[key] = _strict(value, root, where)
        elif key in ("anyOf", "oneOf"):
            out["anyOf"] = [_strict(sub, root, f"{where}/{i}") for i, sub in enumerate(value)]
        elif key == "additionalProperties":
            if value is not False:
                raise StrictSchemaError(
                    f"{path}: objects with arbitrary keys (additionalProperties) cannot be strict"
                )
        elif key == "default" and value is None:
            continue  # the property is required and nullable anyway
        elif key == "discriminator":
            continue  # an OpenAPI hint for 'oneOf', meaningless once it is 'anyOf'
        else:
            out[key] = value

    if not any(key in out for key in _TYPING_KEYS):
        raise StrictSchemaError(f"{path}: a schema without a type (Any) cannot be strict")
    if _is_object(out):
        properties = out.get("properties", {})
        out["properties"] = properties
        out["required"] = list(properties)
        out["additionalProperties"] = False
    return out


def _is_object(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if isinstance(kind, list):
        return "object" in kind
    return kind == "object" or "properties" in schema


def _resolve(root: dict[str, Any], ref: Any, path: str) -> dict[str, Any]:
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise StrictSchemaError(f"{path}: only local $refs can be inlined, got {ref!r}")
    target: Any = root
    for part in ref[1:].split("/")[1:]:
        key = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or key not in target:
            raise StrictSchemaError(f"{path}: unresolvable $ref {ref!r}")
        target = target[key]
    if not isinstance(target, dict):
        raise StrictSchemaError(f"{path}: $ref {ref!r} does not point at a schema")
    return target
