"""The adapter a submit run (or ``claims doctor``) uses for a portal: the class registered
under its name, configured from ``[portals.<name>]`` of claims.toml and its secrets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from claims.errors import InputError
from portals.base import BrowserOptions, PortalAdapter, PortalCredentials
from portals.registry import load_adapter
from portals.totp import TotpSpec

if TYPE_CHECKING:  # only a type here: the workspace composes this slice
    from claims.workspace import Workspace


def default_adapter_factory(ws: Workspace, portal: str) -> PortalAdapter:
    """The adapter registered for ``portal``, configured from claims.toml."""
    cls = load_adapter(portal)
    settings = ws.settings.portals.get(portal)
    if settings is None:
        raise InputError(f"no [portals.{portal}] table", file=str(ws.config_path),
                         field=f"portals.{portal}", rule="portal-configured")
    if settings.password is None:
        raise InputError("no password reference", file=str(ws.config_path),
                         field=f"portals.{portal}.password", rule="secret-reference")
    try:
        totp = TotpSpec(algorithm=settings.totp_algorithm, digits=settings.totp_digits,
                        period=settings.totp_period, encoding=settings.totp_encoding)
    except ValidationError as err:
        raise _settings_error(ws, portal, err) from None
    creds = PortalCredentials(
        username=settings.username,
        password=settings.password.resolve(f"portals.{portal}.password"),
        totp_secret=(settings.totp_secret.resolve(f"portals.{portal}.totp_secret")
                     if settings.totp_secret else None), totp=totp)
    b = ws.settings.browser
    options = BrowserOptions(executable=b.executable or None, headless=b.headless,
                             ws_endpoint=b.ws_endpoint or None,
                             timeout_ms=int(settings.timeout_seconds * 1000))
    state = ws.root / ".portal-state" / f"{portal}.json"
    state.parent.mkdir(mode=0o700, exist_ok=True)
    return cls(settings.url, creds, browser=options, state_file=state,
               evidence_dir=ws.evidence_dir / "portal",
               settings=adapter_settings(ws, portal, cls, settings.model_extra or {}))


def adapter_settings(ws: Workspace, portal: str, cls: type[PortalAdapter],
                     extra: dict[str, Any]) -> BaseModel | None:
    """The adapter's own keys of ``[portals.<portal>]``, validated by its ``settings_model``;
    an adapter without one refuses any extra key (named, with the file)."""
    if cls.settings_model is None:
        if extra:
            key = sorted(extra)[0]
            raise InputError(f"unknown key (the {portal!r} adapter takes no settings of its own)",
                             file=str(ws.config_path), field=f"portals.{portal}.{key}",
                             rule="known-key")
        return None
    try:
        return cls.settings_model.model_validate(extra)
    except ValidationError as err:
        raise _settings_error(ws, portal, err) from None


def _settings_error(ws: Workspace, portal: str, err: ValidationError) -> InputError:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    return InputError(first["msg"], file=str(ws.config_path), field=f"portals.{portal}.{key}",
                      rule="adapter-settings")
