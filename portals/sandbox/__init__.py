"""The sandbox e-claims portal (a real web app) and its Playwright adapter.

* ``python -m portals.sandbox serve`` runs the portal (see :mod:`portals.sandbox.app`);
* ``python -m portals.sandbox backoffice ...`` seeds accounts and contracts and moves claims;
* :class:`portals.sandbox.adapter.SandboxAdapter` drives it through Chromium;
* :mod:`portals.sandbox.testing` starts it for tests.
"""
