"""References the EHR's FHIR server can resolve, for the write-back (adapter-contract.md 3).

The outputs name each input "as the input names it": `Observation/{id}`, or its entry's
fullUrl, and the command line prints exactly that. But a `urn:uuid:` fullUrl names a resource
only inside its own message: written to a FHIR server it names nothing, and a server that
enforces references (HAPI by default) refuses the whole transaction. Before the write-back,
every reference to an input, or to the Specimen or Patient an input points at, by its fullUrl
becomes:

- `Type/id` when the resource has an id (the EHR holds its own results under their ids);
- otherwise, for a `urn:` fullUrl, a logical reference: the resource's first identifier
  (system and value only: an `assigner` would be one more reference to resolve), which a server
  stores without resolving;
- with no identifier either, a description only (`display`): nothing on the server names the
  resource, and a reference the server cannot resolve would cost the whole report.

Nothing is invented: no id is guessed and no conditional reference is made up. The outputs' own
`urn:uuid:` fullUrls are left alone: the transaction carries them, and the server resolves them
to the ids it writes. An absolute fullUrl without id stays as written (it is the resource's URL).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

JsonDict = dict[str, Any]


def for_server(resources: Iterable[JsonDict], entries: Iterable[JsonDict]) -> list[JsonDict]:
    """`resources` (new dicts) with each reference to one of `entries` (`{"fullUrl",
    "resource"}`, the case's inputs and supporting resources) by fullUrl made resolvable."""
    replacements = {
        entry["fullUrl"]: replacement
        for entry in entries
        if entry.get("fullUrl")
        and (replacement := _resolvable(entry["fullUrl"], entry["resource"])) is not None
    }

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            ref = value.get("reference")
            if isinstance(ref, str) and ref in replacements:
                rest = {k: v for k, v in value.items() if k != "reference"}
                return {**rest, **replacements[ref]}
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return [walk(resource) for resource in resources]


def _resolvable(full_url: str, resource: JsonDict) -> JsonDict | None:
    """What a reference to `resource` by `full_url` becomes; None: it stays as written."""
    kind = resource["resourceType"]
    rid = resource.get("id")
    if isinstance(rid, str) and rid:
        return {"reference": f"{kind}/{rid}"}
    if not full_url.startswith("urn:"):
        return None
    for identifier in resource.get("identifier") or ():
        if isinstance(identifier, dict) and identifier.get("value"):
            logical = {k: identifier[k] for k in ("system", "value") if k in identifier}
            return {"type": kind, "identifier": logical}
    return {"type": kind, "display": f"{kind} {full_url} of the message: no id or identifier"}
