"""Messages that name their results instead of carrying them (issue 4: references only).

An EHR's subscription notification (R4B `subscription-notification`) or a Bundle whose entries
hold only a `fullUrl` / `request.url` names Observations that live on the FHIR server. The API
accepts such a message after checking its structure; the worker fetches the named resources and
reads the message as a `collection` of what it then holds. No I/O here: fetching is the
caller's, through the `fetched` mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

JsonDict = dict[str, Any]

# What a results message may name for the worker to fetch (contract 1: Observations, and the
# Specimen / Patient they point at are fetched with them by the worker).
FETCHABLE: Final = re.compile(r"(?:^|/)(Observation|Specimen|Patient)/([A-Za-z0-9\-.]{1,64})$")
# Entries that carry the notification itself, not results.
NOTIFICATION_TYPES: Final = frozenset({"SubscriptionStatus", "Parameters"})


def _entries(message: JsonDict) -> list[Any]:
    """`Bundle.entry` when it is a list, else []: a number or string there is for the reader
    to refuse, naming the field, not a TypeError here."""
    entries = message.get("entry")
    return entries if isinstance(entries, list) else []


def references_to_fetch(message: JsonDict) -> list[str]:
    """`Type/id` of each entry that names a resource without holding it; [] for full messages.

    Only a message that holds no result of its own names results to fetch (a notification's
    SubscriptionStatus aside): in a Bundle that carries resources, an entry without one is not
    a reference but bad input (contract 5), which the reader refuses naming the entry.
    """
    if message.get("resourceType") != "Bundle":
        return []
    entries = _entries(message)
    if any(
        isinstance(e, dict) and not _is_notification_entry(e) and "resource" in e for e in entries
    ):
        return []
    found = []
    for entry in entries:
        if not isinstance(entry, dict) or "resource" in entry:
            continue
        request = entry.get("request")
        url = request.get("url") if isinstance(request, dict) else None
        for candidate in (entry.get("fullUrl"), url):
            match = FETCHABLE.search(candidate) if isinstance(candidate, str) else None
            if match:
                found.append(f"{match.group(1)}/{match.group(2)}")
                break
    return found


def _is_notification_entry(entry: JsonDict) -> bool:
    resource = entry.get("resource")
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    return isinstance(kind, str) and kind in NOTIFICATION_TYPES


def as_readable_message(message: JsonDict, fetched: Mapping[str, JsonDict]) -> JsonDict:
    """The message as the reader takes it: a notification or a references-only Bundle becomes
    a `collection` of the resources it holds plus those fetched; any other message is returned
    unchanged (the reader then judges it)."""
    if message.get("resourceType") != "Bundle":
        return message
    is_notification = message.get("type") == "subscription-notification"
    if not is_notification and not references_to_fetch(message):
        return message
    entries = []
    for entry in _entries(message):
        if not isinstance(entry, dict):
            entries.append(entry)  # the reader rejects it, naming the entry
            continue
        resource = entry.get("resource")
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if isinstance(kind, str) and kind in NOTIFICATION_TYPES:
            continue
        if resource is None:
            named = references_to_fetch({"resourceType": "Bundle", "entry": [entry]})
            if named and named[0] in fetched:
                entries.append({"fullUrl": named[0], "resource": fetched[named[0]]})
            continue
        entries.append({k: v for k, v in entry.items() if k in ("fullUrl", "resource")})
    for reference, resource in fetched.items():  # Specimens/Patients fetched alongside
        if all(e.get("fullUrl") != reference for e in entries if isinstance(e, dict)):
            entries.append({"fullUrl": reference, "resource": resource})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
