"""The conformance kit: what every portal adapter must survive, run against the adapter and the
third party's own fake portal (a :class:`PortalUnderTest`), checked on the portal's records.

    claims portal conformance NAME [--kills N] [--only SCENARIO] [--json]

or in pytest::

    from portals.conformance import SCENARIOS, run_scenario

    @pytest.mark.parametrize("name", SCENARIOS)
    def test_my_adapter(name, my_portal, tmp_path):   # my_portal: a started PortalUnderTest
        run_scenario(name, my_portal, tmp_path)
"""

from portals.conformance.scenarios import (
    SCENARIOS,
    ConformanceFailure,
    NotApplicable,
    Result,
    file_once,
    kill9,
    run_all,
    run_scenario,
)
from portals.conformance.target import FAULTS, PortalUnderTest, load_portal_under_test

__all__ = ["FAULTS", "SCENARIOS", "ConformanceFailure", "NotApplicable", "PortalUnderTest",
           "Result", "file_once", "kill9", "load_portal_under_test", "run_all", "run_scenario"]
