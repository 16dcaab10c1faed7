"""Configuration: one settings object read from ``claims.toml``, overridden by the environment.

Each slice declares its own tables as a section model (``[followup]`` and ``[agencies]`` in
:mod:`claims.collections.settings`, ``[payments]`` in :mod:`claims.payments.settings`,
``[reports]`` in :mod:`claims.reports.settings`, ``[invoice_import]`` in
:mod:`claims.sources.settings`, ``[forecast]`` in :mod:`claims.forecast.settings`);
:class:`Settings` composes them, one typed attribute per table.
A new section is one more attribute here. Every setting has a default and a help line (its
``description``), so an empty claims.toml is a valid one; an unknown key anywhere is an error
naming it (with a "did you mean" when one is close).

Environment overrides: ``CLAIMS_DATABASE_URL``, ``CLAIMS_BROWSER_EXECUTABLE``,
``CLAIMS_BROWSER_WS_ENDPOINT`` and ``CLAIMS_ACTOR``. Secrets are never stored here in clear: a
:class:`~claims.secrets.SecretRef` names where to find one and is resolved only when used.
"""

from __future__ import annotations

import os
import tomllib
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from claims.collections.settings import AgencyRule, FollowupSettings
from claims.core.config import FIELD_ERROR, UNKNOWN_NAME_ERROR, Section
from claims.errors import InputError, UnknownName, WorkspaceError
from claims.forecast.settings import ForecastSettings
from claims.lifecycle.documents.settings import TextBudget
from claims.payments.settings import MatchSettings
from claims.reports.settings import KpiSettings
from claims.secrets import SecretRef
from claims.sources.settings import InvoiceImportSettings
from evidence.witness import WitnessEndpoint

__all__ = ["BrowserSettings", "DatabaseSettings", "EvidenceSettings", "PortalSettings",
           "SecretRef", "Section", "Settings", "WitnessSettings", "load_settings"]


class DatabaseSettings(Section):
    """``[database]``: where the store is."""

    url: str = Field("sqlite:///claims.db",
                     description="SQLAlchemy URL; a relative SQLite path is inside the workspace")


class BrowserSettings(Section):
    """``[browser]``: the Chromium that drives the portals."""

    executable: str = Field("", description="Chromium path; empty: Playwright's, else the system's")
    headless: bool = Field(True, description="run the browser without a window")
    ws_endpoint: str = Field("", description="a Playwright browser server to connect to instead")


class PortalSettings(Section):
    """``[portals.<adapter>]``: one portal's address and the supplier's login.

    Keys beyond these belong to the adapter: they are validated by the pydantic model the
    adapter declares (``PortalAdapter.settings_model``) when the adapter is made; an adapter
    without one refuses them there, naming the key.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    url: str = Field("http://127.0.0.1:8765", description="the portal's base URL")
    username: str = Field("", description="the supplier's portal user name")
    password: SecretRef | None = Field(None, description="where the password is")
    totp_secret: SecretRef | None = Field(None, description="where the TOTP seed is")
    timeout_seconds: float = Field(30.0, description="per-step timeout")  # ok: not money
    totp_algorithm: str = Field("sha1", description="one-time codes: sha1, sha256 or sha512")
    totp_digits: int = Field(6, description="one-time codes: length")
    totp_period: int = Field(30, description="one-time codes: seconds each lives")
    totp_encoding: str = Field("base32", description="one-time codes: seed as base32, hex, ascii")


class WitnessSettings(Section):
    """``[[evidence.witnesses]]``: a witness that cosigns each new checkpoint of the log."""

    url: str = Field(description="the witness's base URL (it answers POST <url>/add-checkpoint)")
    public_key: str = Field(description="the witness's verifier key (vkey), as printed by "
                                        "`claims evidence witness vkey` where it runs")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("a witness URL starts with http:// or https://")
        return value

    @field_validator("public_key")
    @classmethod
    def _cosignature_vkey(cls, value: str) -> str:
        _ = WitnessEndpoint("http://witness", value).key  # ValueError naming the rule if not
        return value.strip()

    def endpoint(self) -> WitnessEndpoint:
        """The archive's view of this witness."""
        return WitnessEndpoint(self.url, self.public_key)


class EvidenceSettings(Section):
    """``[evidence]``: where the evidence archive keeps its blobs and signing key, and the
    witnesses that cosign its checkpoints. Workers on several machines that share one database
    must share the blobs and the key too (see docs/deployment.md)."""

    blobs_dir: str = Field("", description="folder of evidence blobs (shared by a fleet); "
                                           "empty: evidence/blobs; relative: in the workspace")
    key_file: str = Field("", description="private key that signs checkpoints (mode 0600; its "
                                          "public key is beside it as .pub); empty: "
                                          "evidence/keys/signing.key")
    witnesses: list[WitnessSettings] = Field(
        default_factory=list, description="witnesses each new checkpoint is sent to; their "
                                          "cosignatures are kept and exported")


#: The longest lease or settle time: a week (a longer one is a typo, and timedelta overflows
#: long before "99999999999999999999999" seconds).
WEEK_SECONDS = 7 * 24 * 3600


class LeaseSettings(Section):
    """How long a worker holds a claim, and how long a lost intent is left to settle."""

    seconds: float = Field(600.0, gt=0, le=WEEK_SECONDS, allow_inf_nan=False,
                           description="lease length (at most a week); renewed every third of "
                                       "it while the worker lives")  # ok: not money
    settle_seconds: float = Field(60.0, ge=0, le=WEEK_SECONDS, allow_inf_nan=False,
                                  description="a taken-over claim whose intent is "
                                  "younger than this and that the portal does not list yet "
                                  "waits in UNKNOWN instead of being filed again")  # ok: seconds


class Settings(Section):
    """Everything configurable, with defaults: an empty claims.toml is a valid one."""

    actor: str = Field("", description="who acts (recorded in events); default: the OS user")
    database: DatabaseSettings = Field(DatabaseSettings(), description="the store")
    browser: BrowserSettings = Field(BrowserSettings(), description="the portal browser")
    evidence: EvidenceSettings = Field(EvidenceSettings(),
                                       description="where evidence blobs and the signing key are")
    lease: LeaseSettings = Field(LeaseSettings(), description="submission leases (never twice)")
    portals: dict[str, PortalSettings] = Field(default_factory=dict,
                                               description="one table per portal adapter")
    followup: FollowupSettings = Field(FollowupSettings(),
                                       description="collections follow-up: reminders, SMTP, "
                                                   "levels, worklist score, escalation")
    agencies: dict[str, AgencyRule] = Field(default_factory=dict,
                                            description="statutory payment rules per agency name")
    payments: MatchSettings = Field(MatchSettings(),
                                    description="cash application: matching and auto-apply")
    reports: KpiSettings = Field(KpiSettings(), description="KPIs and the weekly/monthly reports")
    invoice_import: InvoiceImportSettings = Field(
        InvoiceImportSettings(), description="invoice sources: export mappings, Zoho Books")
    forecast: ForecastSettings = Field(ForecastSettings(),
                                       description="the 13-week cash-flow forecast")
    documents: TextBudget = Field(TextBudget(), description="the time and memory budget of "
                                                            "reading a document's text")


_ENV_OVERRIDES = {
    "CLAIMS_DATABASE_URL": ("database", "url"),
    "CLAIMS_BROWSER_EXECUTABLE": ("browser", "executable"),
    "CLAIMS_BROWSER_WS_ENDPOINT": ("browser", "ws_endpoint"),
    "CLAIMS_ACTOR": ("actor",),
    "CLAIMS_EVIDENCE_BLOBS_DIR": ("evidence", "blobs_dir"),
    "CLAIMS_EVIDENCE_KEY_FILE": ("evidence", "key_file"),
    "CLAIMS_LEASE_SECONDS": ("lease", "seconds"),
    "CLAIMS_LEASE_SETTLE_SECONDS": ("lease", "settle_seconds"),
}


def load_settings(path: Path) -> Settings:
    """Read ``path`` (claims.toml), apply environment overrides, validate; returns the settings.

    A syntax error, an unknown key or a bad value is an :class:`InputError` naming the file and
    the key's dotted path; a missing file is a :class:`WorkspaceError`.
    """
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkspaceError(f"{path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(str(err), file=str(path), rule="toml-syntax") from err
    except UnicodeDecodeError as err:  # e.g. a workbook written over it
        raise InputError(f"is not UTF-8 text (byte {err.start}); settings are TOML text",
                         file=str(path), rule="toml-syntax") from None
    except OSError as err:
        raise WorkspaceError(f"{path} cannot be read: {err.strerror or err}") from None
    applied: dict[str, str] = {}
    for env, keys in _ENV_OVERRIDES.items():
        if env in os.environ:
            target = data
            for key in keys[:-1]:
                target = target.setdefault(key, {})
            target[keys[-1]] = os.environ[env]
            applied[".".join(keys)] = env
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        problem = settings_error(err, str(path))
        env = applied.get(problem.field or "")
        if env is None:
            raise problem from None
        # the bad value came from the environment: name the variable, not claims.toml
        raise settings_error(err, f"{env} (overrides {path.name})") from None


def settings_error(err: ValidationError, file: str) -> InputError:
    """The first problem of a failed validation of :class:`Settings`, as one clear error: an
    unknown key or name becomes :class:`UnknownName` (with a "did you mean"), anything else an
    :class:`InputError` naming ``file`` and the setting's dotted path."""
    problems = err.errors()
    first = next((p for p in problems if p["type"] == "extra_forbidden"), problems[0])
    loc = tuple(str(part) for part in first["loc"])
    ctx = first.get("ctx") or {}
    if first["type"] == "extra_forbidden":
        known = known_keys(loc[:-1])
        if known is not None:
            return UnknownName("setting", loc[-1], known, file=file, field=".".join(loc))
        return InputError(f"unknown setting {loc[-1]!r}", file=file, field=".".join(loc),
                          rule="known-setting")
    if first["type"] == UNKNOWN_NAME_ERROR:
        return UnknownName(ctx["kind"], ctx["name"], ctx["known"], file=file,
                           field=".".join(loc))
    if first["type"] == FIELD_ERROR:
        loc += (ctx["field"],)
    return InputError(str(first["msg"]).removeprefix("Value error, "), file=file,
                      field=".".join(loc), rule="settings")


def known_keys(loc: tuple[str, ...]) -> list[str] | None:
    """The keys allowed in the table at ``loc`` (a path from the top of claims.toml), or
    ``None`` when ``loc`` is not a table of :class:`Settings`."""
    annotation: Any = Settings
    for part in loc:
        model = _model(annotation)
        if model is not None:
            field = model.model_fields.get(part)
            if field is None:
                return None
            annotation = field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]   # a named entry: [portals.<name>]
        elif get_origin(annotation) in (tuple, list):
            annotation = get_args(annotation)[0]   # an entry of an array of tables
        else:
            return None
    model = _model(annotation)
    return list(model.model_fields) if model is not None else None


def _model(annotation: Any) -> type[BaseModel] | None:
    """The model class ``annotation`` is (or ``X | None`` holds), else ``None``."""
    if get_origin(annotation) in (Union, types.UnionType):
        models = [m for m in map(_model, get_args(annotation)) if m is not None]
        return models[0] if len(models) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None
