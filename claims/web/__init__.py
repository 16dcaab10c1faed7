"""The web workspace (``claims serve``): pages for specialists and auditors over ``claims.api``.

The stack, and why: **Starlette** (the ASGI toolkit the sandbox portal already uses, so the team
keeps one web stack), **Jinja2** templates (already a core dependency; autoescaping on, so nothing
a user typed is rendered unescaped), served by **uvicorn**. Every page is rendered on the server
and every action is a plain HTML form posted to the server (POST → redirect → GET), each behind a
confirmation page: no JavaScript framework, no htmx, no build step, nothing to vendor, and
everything works by keyboard, with a screen reader and with JavaScript off. A little htmx would
earn its place only for partial refreshes, which these pages do not need yet.

The web layer imports only :mod:`claims.api` (an import-linter contract keeps it so): no
business rule lives here; it reads the request, calls the API as the signed-in person
(:func:`claims.api.acting_as`), and renders the result or the API's one-line error.

It is the optional extra ``claimwright[web]`` (starlette, uvicorn, python-multipart,
itsdangerous); passwords are hashed with ``hashlib.scrypt``, so no hashing library is needed.
"""
