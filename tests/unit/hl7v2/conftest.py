from __future__ import annotations

import pytest

from adapter.mappings import Mappings, default_mappings


@pytest.fixture(scope="session")
def mappings() -> Mappings:
    return default_mappings()
