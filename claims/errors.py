"""One exception tree for the whole library.

::

    ClaimsError                      base; ``exit_code`` is what the CLI exits with
    ├── WorkspaceError               no workspace, bad claims.toml, refused overwrite
    ├── InputError                   a bad file or value a user gave us (names file, field, rule)
    │   ├── UnknownName              an unknown document type / claim type ("did you mean …?")
    │   └── ImportRejected           an invoice import with error findings (claims.sources.common)
    ├── NotFound                     an id or number that is not in the store
    ├── ValidationFailed             validation found error findings (carries them)
    ├── BundleError                  a bundle could not be built (nothing is left half-made)
    ├── StoreError                   the database refused (wrapped SQLAlchemy errors)
    │   └── DuplicateKey             a unique key refused the row (another run holds it)
    ├── PluginError                  an installed plug-in (entry point) is broken: names it
    ├── ConflictError                the action conflicts with the state (already built, …)
    │   └── LeaseLost                another worker holds the claim now: stop, click nothing
    ├── PortalUnreachable            a portal could not be reached at all (exit 3)
    ├── SyncLocked                   another status sync holds the lock (exit 4)
    ├── EvidenceFailed               the evidence archive refused or could not be read
    ├── SendFailed                   the SMTP server refused a reminder (claims.collections.dunning)
    └── ZohoError                    Zoho Books refused or was unreachable (claims.sources.zoho)

The last two and ImportRejected carry their slice's data, so they are defined beside it; they
are part of this tree and nowhere else.

Portal errors live in :mod:`portals.errors` (``portals`` never imports ``claims``); the CLI maps
them the same way. Every error carries structured attributes, and its message is built from them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from claims.lifecycle.validation.findings import Finding


class ClaimsError(Exception):
    """Base of every expected failure; the CLI prints its message and exits ``exit_code``."""

    exit_code = 1


class WorkspaceError(ClaimsError):
    """The workspace is missing, unreadable or would be overwritten."""


class InputError(ClaimsError):
    """Bad input from a user: names the file, the field and the rule that it broke."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 rule: str | None = None) -> None:
        self.file, self.field, self.rule = file, field, rule
        where = ": ".join(part for part in (file, field) if part)
        text = f"{where}: {message}" if where else message
        if rule:
            text += f" [rule: {rule}]"
        super().__init__(text)


class UnknownName(InputError):
    """A name that is not in a known vocabulary, with near-miss suggestions."""

    def __init__(self, kind: str, name: str, known: Iterable[str], *, file: str | None = None,
                 field: str | None = None, rule: str | None = None) -> None:
        self.kind, self.name, self.known = kind, name, sorted(known)
        self.suggestions = difflib.get_close_matches(name, self.known, n=1, cutoff=0.6)
        hint = f" (did you mean {' or '.join(self.suggestions)}?)" if self.suggestions else ""
        known_list = ", ".join(self.known) or "none"
        super().__init__(f"unknown {kind} {name!r}{hint}; known: {known_list}", file=file,
                         field=field, rule=rule or f"known-{kind.replace(' ', '-')}")


class NotFound(ClaimsError):
    """An id or a number that is not in the store."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind, self.key = kind, key
        super().__init__(f"no {kind} {key}")


class ValidationFailed(ClaimsError):
    """Validation produced error findings; ``findings`` holds all of them."""

    def __init__(self, claim_id: int | None, findings: Sequence[Finding]) -> None:
        self.claim_id, self.findings = claim_id, list(findings)
        errors = [f for f in self.findings if f.is_error]
        head = f"claim {claim_id}: " if claim_id is not None else ""
        lines = "\n".join(f"  {f}" for f in errors)
        super().__init__(f"{head}{len(errors)} error finding(s)\n{lines}")


class BundleError(ClaimsError):
    """A bundle could not be built; nothing was left behind."""

    def __init__(self, message: str, *, claim_id: int | None = None,
                 path: str | None = None) -> None:
        self.claim_id, self.path = claim_id, path
        super().__init__(message)


class StoredCopyChanged(BundleError):
    """A stored document's bytes, read as the bundle was built, are not its recorded SHA-256;
    ``filename`` is the user's name for it and ``changed`` what differs."""

    def __init__(self, message: str, *, filename: str, changed: str,
                 claim_id: int | None = None, path: str | None = None) -> None:
        self.filename, self.changed = filename, changed
        super().__init__(message, claim_id=claim_id, path=path)


class StoreError(ClaimsError):
    """The database refused an operation (a wrapped SQLAlchemy error)."""


class DuplicateKey(StoreError):
    """A unique key refused the change (the row is already there): the one store error that
    means "someone else did it first" (e.g. another follow-up run reserved the reminder)."""


class PluginError(ClaimsError):
    """An installed plug-in (an entry point) could not be loaded or is not what its group
    expects; the message names the group, the entry point and the object it points at."""

    def __init__(self, message: str, *, group: str, name: str, target: str) -> None:
        self.group, self.name, self.target = group, name, target
        super().__init__(f"plug-in {name!r} ({target}) in entry-point group {group!r}: "
                         f"{message}")


class ConflictError(ClaimsError):
    """The requested action conflicts with the current state."""


class LeaseLost(ConflictError):
    """This worker no longer holds the claim's lease (it lapsed and another worker took it)."""

    def __init__(self, claim_id: int, owner: str, why: str = "") -> None:
        self.claim_id, self.owner = claim_id, owner
        super().__init__(f"claim {claim_id}: this worker lost its lease"
                         + (f" ({why})" if why else "") + "; another worker holds it now")


class PortalUnreachable(ClaimsError):
    """A portal could not be reached at all (status sync); ``portal`` names it and
    ``results`` holds each visited portal's outcome (its ``error``) by name."""

    exit_code = 3

    def __init__(self, message: str, *, portal: str | None = None,
                 results: dict[str, Any] | None = None) -> None:
        self.portal = portal
        self.results = results or {}
        super().__init__(message)


class SyncLocked(ClaimsError):
    """Another status sync holds the lock; this run did nothing."""

    exit_code = 4


class EvidenceFailed(ClaimsError):
    """An evidence operation failed (a wrapped :class:`evidence.EvidenceError`)."""
