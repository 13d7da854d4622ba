import pytest

from cti import api


@pytest.fixture(autouse=True)
def _pbx_cache_empty():
    """Each test starts as a process that has read no PBX yet: the webhook's PBX cache
    outlives a test's rolled-back rows, and a later test may reuse the same PBX id."""
    api.pbx_cache_clear()
    yield
    api.pbx_cache_clear()
