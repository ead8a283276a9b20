"""The HTTP API: ingest (FHIR R4 JSON), jobs, capability, health and metrics (STYLE.md [1])."""
