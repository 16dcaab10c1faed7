"""``StepAdapter``: the never-twice half of every adapter, so an adapter writes only portal steps.

An adapter on :class:`StepAdapter` writes what only it knows::

    sign_in()                      get a live session (password, one-time code...)
    fill(package, resubmit_of)     open the form (new claim, or correction of resubmit_of)
    attach(package)                upload the files
    final_click(package)           the one irreversible action
    read_receipt(package)          the portal's reference, time and message -> Receipt
    find_claim(contract, invoice)  the portal's claim for this invoice, or None
    list_statuses()                every claim of the account -> [StatusReport]
    payment_advice(reference, dest)  the claim's documents as files (optional)

and the base class runs the rest, the same way for every portal:

1. :func:`~portals.base.check_package` against ``limits`` (PortalRejected, nothing sent);
2. evidence around every step (:class:`~portals.recording.EvidenceRecorder`, secrets masked);
3. ``sign_in``/``fill``/``attach`` retried with doubling backoff on PortalUnavailable,
   PortalTimeout and SessionExpired, waiting at least the portal's ``retry_after`` (a 429's
   ``Retry-After``) when it gave one (a refused password is never retried);
4. ``on_final_submit()`` right before ``final_click``; if it raises, nothing is clicked;
5. any failure from ``final_click`` on is :class:`~portals.errors.OutcomeUnknown`, unless the
   adapter says the portal clearly refused (AlreadySubmitted, PortalRejected);
6. capabilities: ``resubmit`` without :attr:`Capability.RESUBMISSION` raises NotSupported.

Raw third-party errors raised in a step are turned into portal errors by :meth:`map_error`
(browser adapters: Playwright's; API adapters: httpx's).
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, ClassVar

from portals.base import (
    Capability,
    FinalSubmitHook,
    PortalAdapter,
    PortalStatus,
    Receipt,
    StatusReport,
    SubmissionPackage,
    check_package,
)
from portals.errors import (
    AlreadySubmitted,
    NotSupported,
    OutcomeUnknown,
    PortalError,
    PortalRejected,
    PortalTimeout,
    PortalUnavailable,
    SessionExpired,
)
from portals.recording import EvidenceRecorder

#: What is retried before the final click.
RETRYABLE = (PortalUnavailable, PortalTimeout, SessionExpired)


class StepAdapter(PortalAdapter):
    """An adapter that writes portal steps only; never-twice is run here. See the module doc."""

    #: The portal's own status words -> the fixed vocabulary (see :meth:`portal_status`).
    status_map: ClassVar[Mapping[str, PortalStatus]] = {s.value: s for s in PortalStatus}
    #: CSS selectors masked in screenshots beyond every password and one-time-code field.
    secret_selectors: ClassVar[tuple[str, ...]] = ()

    _ev: EvidenceRecorder | None = None
    #: True once the portal accepted this adapter's session; False makes the next try sign in
    signed_in: bool = False

    # -- the steps an adapter writes -----------------------------------------------------------
    @abstractmethod
    def sign_in(self) -> None:
        """Get a live session (reuse a stored one when it still works)."""

    @abstractmethod
    def fill(self, package: SubmissionPackage, resubmit_of: str | None) -> None:
        """Open the claim form (or the correction of ``resubmit_of``) and fill it in."""

    def attach(self, package: SubmissionPackage) -> None:
        """Upload ``package.files`` (default: nothing, for portals that take them in ``fill``)."""

    @abstractmethod
    def final_click(self, package: SubmissionPackage) -> None:
        """The one irreversible action. Raise AlreadySubmitted / PortalRejected only when the
        portal clearly refused; anything else raised from here on becomes OutcomeUnknown."""

    @abstractmethod
    def read_receipt(self, package: SubmissionPackage) -> Receipt:
        """What the portal answered to the final click, as a Receipt."""

    @abstractmethod
    def list_statuses(self) -> list[StatusReport]:
        """Every claim of the account with its status (use :meth:`portal_status` to map)."""

    def payment_advice(self, reference: str, dest: Path) -> list[Path]:
        """Save the claim's documents into ``dest`` (needs Capability.PAYMENT_ADVICE)."""
        raise NotSupported(Capability.PAYMENT_ADVICE.value, portal=self.name, step="documents")

    def map_error(self, err: Exception, step: str) -> PortalError | None:
        """A raw error of a step as a portal error (None: not ours, let it through)."""
        if isinstance(err, TimeoutError):
            return PortalTimeout(f"timed out: {err}", portal=self.name, step=step)
        if isinstance(err, OSError):
            return PortalUnavailable(f"network error: {err}", portal=self.name, step=step)
        return None

    def capture(self, step: str, **details: Any) -> None:
        """Evidence of the step just done (browser adapters: a masked screenshot)."""
        self.evidence.note(step, **details)

    def on_step_error(self, err: PortalError) -> None:
        """Evidence of a step that failed before the final click (browser adapters: a masked
        screenshot of the page, unless the step just took one; others: nothing more)."""

    def sent_once(self) -> AbstractContextManager[Any]:
        """Around the final click: make sure what it sends reaches the portal at most once
        (browser adapters: :meth:`portals.browser_kit.BrowserAdapter.sent_once`; API adapters
        send with a client that never re-sends a request on its own: nothing to do)."""
        return nullcontext()

    def mark(self, step: str, **details: Any) -> None:
        """A cheaper record of the step just done (browser adapters: url, title and time, no
        screenshot): for form-filling steps; use :meth:`capture` for sign-in, the page before
        the final click, the receipt and errors."""
        self.evidence.note(step, **details)

    # -- what the kit runs ------------------------------------------------------------------------
    @property
    def evidence(self) -> EvidenceRecorder:
        """The recorder of the claim being filed (inside submit/resubmit only)."""
        if self._ev is None:
            raise RuntimeError("no evidence recorder outside submit/resubmit")
        return self._ev

    @property
    def recording(self) -> bool:
        """Whether a claim is being filed (so :meth:`capture` has somewhere to write)."""
        return self._ev is not None

    def portal_status(self, word: str) -> PortalStatus:
        """The vocabulary status of the portal's ``word`` (by :attr:`status_map`)."""
        try:
            return self.status_map[word]
        except KeyError:
            raise PortalError(
                f"unknown portal status {word!r} (known: {', '.join(sorted(self.status_map))})",
                portal=self.name,
                step="statuses",
            ) from None

    @contextmanager
    def guarded(self, step: str) -> Iterator[None]:
        """Run a step: raw errors become portal errors by :meth:`map_error`."""
        try:
            yield
        except PortalError:
            raise
        except Exception as err:
            mapped = self.map_error(err, step)
            if mapped is None:
                raise
            raise mapped from err

    def login(self) -> None:
        """Make sure there is a live session (runs :meth:`sign_in`)."""
        with self.guarded("login"):
            self.sign_in()
        self.signed_in = True

    def submit(
        self, package: SubmissionPackage, evidence_dir: Path, on_final_submit: FinalSubmitHook
    ) -> Receipt:
        """File a new claim; see :meth:`PortalAdapter.submit` (run by the kit)."""
        return self._file(package, evidence_dir, on_final_submit, None)

    def resubmit(
        self,
        reference: str,
        package: SubmissionPackage,
        evidence_dir: Path,
        on_final_submit: FinalSubmitHook,
    ) -> Receipt:
        """Correct the returned claim ``reference``; NotSupported without RESUBMISSION."""
        if Capability.RESUBMISSION not in self.capabilities:
            raise NotSupported(Capability.RESUBMISSION.value, portal=self.name, step="resubmit")
        return self._file(package, evidence_dir, on_final_submit, reference)

    def fetch_statuses(self) -> list[StatusReport]:
        """Every claim of the account (runs :meth:`list_statuses`)."""
        with self.guarded("statuses"):
            return self.list_statuses()

    def download_documents(self, reference: str, dest: Path) -> list[Path]:
        """The claim's documents into ``dest`` (runs :meth:`payment_advice`)."""
        with self.guarded("documents"):
            return self.payment_advice(reference, dest)

    def _file(
        self,
        package: SubmissionPackage,
        evidence_dir: Path,
        on_final_submit: FinalSubmitHook,
        resubmit_of: str | None,
    ) -> Receipt:
        problems = check_package(package, self.limits)
        if problems:
            raise PortalRejected(problems, portal=self.name, step="check")
        ev = self._ev = EvidenceRecorder(
            evidence_dir,
            sent=package.model_dump(mode="json"),
            adapter=self.name,
            operation="resubmit" if resubmit_of else "submit",
            base_url=self.base_url,
            claim_key=package.claim_key,
            mask=self.secret_selectors,
        )
        try:
            self._prepare(package, resubmit_of)
            ev.note("on_final_submit")
            on_final_submit()  # the caller persists its intent; if it raises, we never click
            receipt = self._click(package)
        except BaseException as err:
            extra = {"detail": str(err)} if isinstance(err, PortalError) else {}
            ev.finish("error", error=type(err).__name__, **extra)
            raise
        finally:
            self._ev = None
        ev.finish("accepted", reference=receipt.reference)
        return receipt

    def _prepare(self, package: SubmissionPackage, resubmit_of: str | None) -> None:
        """Sign in, fill and attach, retried with doubling backoff; nothing is filed yet."""
        opts = self.browser_options
        for attempt in range(1, opts.max_attempts + 1):
            try:
                if not self.signed_in:
                    self.login()
                with self.guarded("fill"):
                    self.fill(package, resubmit_of)
                with self.guarded("attach"):
                    self.attach(package)
                return
            except RETRYABLE as err:
                self.signed_in = False  # check (and renew) the session before retrying
                self.on_step_error(err)
                self.evidence.note(
                    "retry", attempt=attempt, error=type(err).__name__, detail=str(err)
                )
                if attempt == opts.max_attempts:
                    raise
                asked = getattr(err, "retry_after", None) or 0
                time.sleep(max(opts.backoff_s * 2 ** (attempt - 1), asked))  # ok: retry backoff
            except PortalError as err:  # not retried: refused, rejected, an unexpected page
                self.on_step_error(err)
                raise

    def _click(self, package: SubmissionPackage) -> Receipt:
        """The final click and the receipt: any failure but a clear refusal is OutcomeUnknown."""
        step = "final_submit"
        try:
            with self.sent_once():
                self.final_click(package)
            step = "receipt"
            return self.read_receipt(package)
        except (AlreadySubmitted, PortalRejected, OutcomeUnknown):
            raise
        except Exception as err:
            mapped = err if isinstance(err, PortalError) else self.map_error(err, step)
            detail = mapped.message if mapped is not None else repr(err)
            raise OutcomeUnknown(
                f"after the final click: {detail}",
                portal=self.name,
                step=step,
                evidence=list(self.evidence.screenshots),
            ) from err
