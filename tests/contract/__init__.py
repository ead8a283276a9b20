"""Tests generated from the contracts' grammar (issue 18): a case model, an independent oracle,
FHIR and HL7 v2 renderers, the invariant and the differential across every door."""
