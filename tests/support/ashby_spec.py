"""Ashby's API description (tests/contracts/ashby/, a byte-for-byte copy) as JSON Schema validators."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).parents[1] / "contracts" / "ashby" / "ashby-api-openapi.json"
BASE = "urn:ashby-api"


def _nullable_enums(node: Any) -> None:
    """The one normalisation: the description marks some enums nullable (`type: [string, null]`)
    but leaves `null` out of the `enum` (e.g. an interviewer's `trainingRole`); Ashby sends null."""
    if isinstance(node, dict):
        kinds = node.get("type")
        if isinstance(kinds, list) and "null" in kinds and isinstance(node.get("enum"), list) \
                and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        for value in node.values():
            _nullable_enums(value)
    elif isinstance(node, list):
        for value in node:
            _nullable_enums(value)


@functools.cache
def _registry() -> Registry:
    spec = json.loads(SPEC_PATH.read_text())
    _nullable_enums(spec)
    return Registry().with_resource(BASE, Resource.from_contents(spec, default_specification=DRAFT202012))


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@functools.cache
def _validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{BASE}#/{pointer}"}, registry=_registry(),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def _problems(validator: Draft202012Validator, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
            for e in validator.iter_errors(instance)]


def request_problems(endpoint: str, body: Any) -> list[str]:
    return _problems(_validator(_pointer("paths", f"/{endpoint}", "post", "requestBody", "content",
                                         "application/json", "schema")), body)


def response_problems(endpoint: str, body: Any) -> list[str]:
    return _problems(_validator(_pointer("paths", f"/{endpoint}", "post", "responses", "200", "content",
                                         "application/json", "schema")), body)


def webhook_problems(body: Any) -> list[str]:
    action = body.get("action") if isinstance(body, dict) else None
    return _problems(_validator(_pointer("webhooks", str(action), "post", "requestBody", "content",
                                         "application/json", "schema")), body)
