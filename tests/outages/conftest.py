import pytest

from cti import api as cti_api
from outages import selectors


@pytest.fixture(autouse=True)
def _active_outages_reloaded():
    """Each test starts and ends with the active outages read from its own database: the
    per-process snapshot outlives a test's rolled-back rows."""
    selectors.active_changed()
    cti_api.pbx_cache_clear()
    yield
    selectors.active_changed()
    cti_api.pbx_cache_clear()
