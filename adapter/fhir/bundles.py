"""Output Bundles: a `collection` to print, a `transaction` of PUTs for the write-back.

Every output resource leaves in one of these, so this is where output is validated: the whole
Bundle, each resource through its R4B model, exactly as it is printed or written (round-trip:
never hand on a resource R4B rejects). `report.case_resources` does not validate again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fhir.resources.R4B.bundle import Bundle


def _full_url(resource: dict[str, Any]) -> str:
    # Our ids are uuid5s, referenced as urn:uuid (report.reference); other ids keep Type/id.
    rid = resource["id"]
    return (
        f"urn:uuid:{rid}"
        if len(rid) == 36 and rid.count("-") == 4
        else f"{resource['resourceType']}/{rid}"
    )


def collection_bundle(resources: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A Bundle of type `collection` holding the resources, validated R4B."""
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": _full_url(r), "resource": r} for r in resources],
    }
    Bundle.model_validate(bundle)
    return bundle


def transaction_bundle(
    resources: Iterable[dict[str, Any]], if_match: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A `transaction` Bundle: each resource PUT to `<Type>/<id>` (idempotent); validated R4B.

    `if_match` (`Type/id` -> versionId): those PUTs are made only while the server still holds
    that version (`entry.request.ifMatch`); otherwise it refuses the whole transaction (412)."""
    entries = []
    for r in resources:
        url = f"{r['resourceType']}/{r['id']}"
        request = {"method": "PUT", "url": url}
        if if_match and url in if_match:
            request["ifMatch"] = f'W/"{if_match[url]}"'
        entries.append({"fullUrl": _full_url(r), "resource": r, "request": request})
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    Bundle.model_validate(bundle)
    return bundle
