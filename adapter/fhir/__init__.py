"""FHIR R4 <-> core translation, without I/O (STYLE.md R5).

`findings.read_message` turns an Observation or Bundle into cases of `Her2Findings`;
`report.case_resources` turns an interpretation back into FHIR resources. Every error names
the offending field as a FHIRPath. Models come from `fhir.resources.R4B` only (R6).
"""
