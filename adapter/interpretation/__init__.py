"""The interpretation core: HER2 facts in, a guideline decision with its reasons out.

Standard library only: no FHIR, HTTP, Celery, Redis, pydantic or file I/O (STYLE.md R1;
tests/unit/test_architecture.py enforces it).
"""
