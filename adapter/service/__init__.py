"""The application layer: the one place that orchestrates (STYLE.md 1).

"A message arrives for a case -> merge -> interpret -> the resources to write", used unchanged
by the command line (`offline`), the worker (`processing`) and both doors (`admission`):

    arrivals.py     a message of either door -> its cases' arrivals (inputs, supporting resources)
    case_state.py   what a case holds across messages and how an arrival merges in (pure)
    settle.py       a case's state + an arrival -> its next state and the report to write (pure)
    offline.py      `her2-adapter interpret`: every case of a message settled from nothing
    processing.py   the worker: lock, load, settle, write back, save, per case of a job
    admission.py    what the doors admit before they answer 202 / AA
    readiness.py    `/health/ready`: each dependency, its state and why
    sweeper.py      the outbox: accepted jobs the broker lost, submitted again

Below it: the edges (Redis stores, the queue, the FHIR client), the translation (`adapter.fhir`,
`adapter.hl7v2`, `adapter.mappings`) and the core (`adapter.interpretation`). Above it: the
doors (`adapter.api`, `adapter.mllp`, `workers`) and the command line.
"""
