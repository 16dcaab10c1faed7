"""Loading and running the forecast on a store (issue #17): the forecast pauses the cyclic
collector only while it runs."""

from __future__ import annotations

import gc

import pytest

from claims.api.forecast import collector_paused


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_only_while_the_forecast_runs(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError), collector_paused():
            raise RuntimeError("the forecast failed")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
