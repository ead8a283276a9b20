"""The laboratory QA report (`her2-adapter qa`, qa-report-contract.md).

sources / server  the adapter's reports, from files or a FHIR server, as `ReportFacts`
tally             the latest report of each case, kept on disk; counts per lab x site x period
figures           the rows: shares, Wilson intervals, flags against the benchmark bands
formats           CSV, JSON, FHIR MeasureReport, HTML (with the funnel plots of funnel.py)
"""
