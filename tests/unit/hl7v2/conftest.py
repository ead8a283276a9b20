from __future__ import annotations

import pytest

from adapter.mapping_files import default_mappings
from adapter.mappings import Mappings


@pytest.fixture(scope="session")
def mappings() -> Mappings:
    return default_mappings()
