"""The sandbox portal's web side, one module per area; :mod:`portals.sandbox.app` composes them.

* :mod:`.core` the portal's state and the page wrapper; :mod:`.login` signing in and out;
* :mod:`.wizard` the four-step claim wizard; :mod:`.claim_list` the list and CSV export;
* :mod:`.claim_pages` one claim and its correction; :mod:`.receipts` receipts and PDFs;
* :mod:`.backoffice` the JSON back office; :mod:`.runtime` faults, settings and sessions.
"""
