"""The JSON Schema of scenario files, for editors (``apga-sim schema``).

It is pydantic's validation schema of :class:`~apga_sim.scenario.Scenario`, so it accepts what
the loader accepts (numbers or ``2^-3`` powers in grids, ``1/9`` fractions), plus ``$schema``,
``$id`` and a description on every field: a tag field (``kind`` of a profile, ``name`` of a
method) is described by the model it selects.
"""

from __future__ import annotations

from typing import Any

from apga_sim import __version__
from apga_sim.scenario import Scenario

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID = f"urn:apga-sim:scenario:{__version__}"


def _describe_tags(node: Any) -> None:
    """Give every constant-valued property (a union tag) its model's first docstring line."""
    if isinstance(node, dict):
        about = str(node.get("description", node.get("title", ""))).split("\n", 1)[0]
        for prop in node.get("properties", {}).values():
            if "const" in prop and "description" not in prop:
                prop["description"] = f"{prop['const']}: {about}"
        for value in node.values():
            _describe_tags(value)
    elif isinstance(node, list):
        for value in node:
            _describe_tags(value)


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of scenario YAML files."""
    schema = Scenario.model_json_schema()
    _describe_tags(schema)
    return {"$schema": DIALECT, "$id": ID, **schema}
