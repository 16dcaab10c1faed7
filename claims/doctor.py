"""``claims doctor``: check a workspace the way a support engineer would, and say what to fix.

Each check gives one :class:`Check` — ``ok``, ``warn`` (works, but should be fixed) or ``fail``
(a command will fail) — with the fix in one sentence. The checks read; they never write to the
workspace, never log in anywhere and never send mail. With ``network`` they also open a TCP
connection to the SMTP server (and upgrade it with STARTTLS when configured) and ask each
portal's address for a page, so that an unreachable server is found before a run needs it.
"""

from __future__ import annotations

import smtplib
import ssl
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from claims.collections.contacts import TEMPLATES, available_languages
from claims.collections.interest import rate_on, with_configured
from claims.collections.settings import CollectionsConfig, SmtpSettings
from claims.errors import ClaimsError
from claims.lifecycle.submission import default_adapter_factory
from claims.settings import load_settings
from claims.store.tables import ContactRow, ContractRow
from claims.workspace import CONFIG_NAME, Workspace
from portals.browser import find_chromium
from portals.errors import BrowserNotFound, PortalError
from portals.registry import available_adapters

__all__ = ["Check", "run_checks"]

#: how long a network probe may take before the server counts as unreachable
PROBE_SECONDS = 5.0


@dataclass(frozen=True)
class Check:
    """One finding of the doctor: what was checked, how it stands, and what to do."""

    name: str
    state: str  # ok | warn | fail
    message: str
    fix: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _ok(name: str, message: str) -> Check:
    return Check(name, "ok", message)


def check_settings(ws: Workspace) -> list[Check]:
    """``claims.toml`` loads: every key known, every value valid."""
    try:
        load_settings(ws.config_path)
    except ClaimsError as err:
        return [Check("settings", "fail", str(err), f"edit {ws.config_path}")]
    return [_ok("settings", f"{CONFIG_NAME} is valid")]


def _loose(path: Path) -> bool:
    """True when group or others may read, write or enter ``path``."""
    try:
        return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except OSError:
        return False


def check_privacy(ws: Workspace) -> list[Check]:
    """The workspace is its owner's only: the folder, the database, the key and the outbox."""
    paths = [ws.root, ws.root / "claims.db", ws.evidence_dir, ws.evidence_dir / "keys",
             ws.documents_dir, ws.root / "outbox"]
    loose = [str(p) for p in paths if p.exists() and _loose(p)]
    if loose:
        return [Check("privacy", "warn", f"readable by other users: {', '.join(loose)}",
                      f"chmod -R go-rwx {ws.root}")]
    return [_ok("privacy", "the workspace is readable by its owner only")]


def check_database(ws: Workspace) -> list[Check]:
    """The database opens and its schema is at the newest revision (opening migrates it)."""
    try:
        with ws.store.session() as s:
            contracts = len(s.scalars(select(ContractRow.number)).all())
    except ClaimsError as err:
        return [Check("database", "fail", str(err), "check [database] url in claims.toml")]
    except Exception as err:  # noqa: BLE001 - a driver's own error, reported in one line
        return [Check("database", "fail", f"{type(err).__name__}: {err}".splitlines()[0],
                      "check [database] url in claims.toml and that the server runs")]
    return [_ok("database", f"{_safe_url(ws.database_url)} ({contracts} contracts)")]


def _safe_url(url: str) -> str:
    """A database URL without its password."""
    head, sep, tail = url.partition("@")
    if not sep or "://" not in head:
        return url
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':')[0]}@{tail}"


def check_templates(ws: Workspace) -> list[Check]:
    """Every dunning level's template exists in every language a contact reads."""
    conf = ws.settings.followup
    languages = available_languages(conf.templates_dir, ws.root)
    with ws.store.session() as s:
        wanted = set(s.scalars(select(ContactRow.language).distinct()).all())
    out = []
    missing_lang = sorted(wanted - set(languages))
    if missing_lang:
        out.append(Check("templates", "fail",
                         f"contacts read {', '.join(missing_lang)} but there are reminder "
                         f"templates only for {', '.join(languages)}",
                         "add templates in [followup] templates_dir or edit the contacts "
                         "(claims contact edit)"))
    folders = _template_folders(conf.templates_dir, ws.root)
    for level in conf.levels:
        if level.channel != "email":
            continue
        for lang in sorted(wanted & set(languages)) or languages[:1]:
            if not any((f / lang / f"{level.template}.txt.j2").is_file() for f in folders):
                out.append(Check("templates", "fail",
                                 f"level {level.name}: no template {level.template!r} in {lang}",
                                 f"add {lang}/{level.template}.txt.j2 to the templates folder"))
    return out or [_ok("templates", f"reminder templates for {', '.join(languages)}")]


def _template_folders(templates_dir: str, root: Path) -> list[Path]:
    own = Path(templates_dir) if templates_dir else None
    return [TEMPLATES] + ([own if own.is_absolute() else root / own] if own else [])


def check_smtp(ws: Workspace, *, network: bool) -> list[Check]:
    """The mail server: a login only over TLS (or to this machine), its password found, and
    with ``network`` the server answers (STARTTLS checked when configured; no login)."""
    cfg = ws.settings.followup.smtp
    if cfg.username and not (cfg.ssl or cfg.use_starttls) and not cfg.loopback:
        return [Check("smtp", "fail", f"a login to {cfg.host} would cross the network in clear "
                      "text", "set starttls = true or ssl = true in [followup.smtp]")]
    if cfg.username:
        if cfg.password is None:
            return [Check("smtp", "fail", "a username is set but no password reference",
                          "set [followup.smtp] password = {env = \"…\"}")]
        try:
            cfg.password.resolve("followup.smtp.password")
        except ClaimsError as err:
            return [Check("smtp", "fail", str(err), "provide the SMTP password")]
    if not network:
        return [_ok("smtp", f"{cfg.host}:{cfg.port} configured (not contacted)")]
    problem = _probe_smtp(cfg)
    if problem:
        return [Check("smtp", "fail", f"{cfg.host}:{cfg.port}: {problem}",
                      "check [followup.smtp] host, port and TLS settings")]
    tls = "TLS" if cfg.ssl else "STARTTLS" if cfg.use_starttls else "no TLS (loopback)"
    return [_ok("smtp", f"{cfg.host}:{cfg.port} answers ({tls})")]


def _probe_smtp(cfg: SmtpSettings) -> str:
    """Connect, greet, upgrade as configured and say goodbye; '' when all went well."""
    timeout = min(cfg.timeout_seconds, PROBE_SECONDS)
    context = ssl.create_default_context(cafile=cfg.ca_file or None)
    try:
        smtp = (smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=timeout, context=context)
                if cfg.ssl else smtplib.SMTP(cfg.host, cfg.port, timeout=timeout))
        try:
            smtp.ehlo()
            if cfg.use_starttls:
                smtp.starttls(context=context)
        finally:
            smtp.close()
    except (smtplib.SMTPException, OSError) as err:
        return f"{type(err).__name__}: {err}"
    return ""


def check_portals(ws: Workspace, *, network: bool) -> list[Check]:
    """Each portal a contract files on: its adapter is installed, its settings and secrets
    are complete, and with ``network`` its address answers."""
    with ws.store.session() as s:
        used = sorted(set(s.scalars(select(ContractRow.portal)).all()))
    if not used:
        return [_ok("portals", "no contract files on a portal yet")]
    installed = available_adapters()
    return [c for portal in used for c in _check_portal(ws, portal, installed, network)]


def _check_portal(ws: Workspace, portal: str, installed: list[str],
                  network: bool) -> list[Check]:
    name = f"portal {portal}"
    if portal not in installed:
        return [Check(name, "fail", f"no adapter named {portal!r} is installed "
                      f"(installed: {', '.join(installed) or 'none'})",
                      "install the adapter's package or correct the contract's portal")]
    if portal not in ws.settings.portals:
        return [Check(name, "fail", f"no [portals.{portal}] section in {CONFIG_NAME}",
                      f"add [portals.{portal}] with url, username and password")]
    try:
        default_adapter_factory(ws, portal)  # settings and secrets, as a submission reads them
    except (ClaimsError, PortalError) as err:
        return [Check(name, "fail", str(err), f"complete [portals.{portal}] in {CONFIG_NAME}")]
    url = ws.settings.portals[portal].url
    if not network:
        return [_ok(name, f"{url}: settings and secrets complete (not contacted)")]
    try:
        httpx.get(url, timeout=PROBE_SECONDS, follow_redirects=False)
    except httpx.HTTPError as err:
        return [Check(name, "warn", f"{url} does not answer ({type(err).__name__})",
                      "check the address, or try again when the portal is up")]
    return [_ok(name, f"{url} answers; settings and secrets complete")]


def check_interest(ws: Workspace, today: date) -> list[Check]:
    """Agencies under the Prompt Payment rule without a fixed contract rate need the Treasury
    rate of the current period; without it, interest on items due now is reported unknown."""
    config = CollectionsConfig(followup=ws.settings.followup, agencies=ws.settings.agencies)
    needing = sorted(name for name, rule in config.agencies.items()
                     if rule.rule == "prompt-payment" and rule.interest_rate_percent == 0)
    if not needing:
        return []
    try:
        rates = with_configured(config.followup.treasury_rates)
    except ClaimsError as err:
        return [Check("interest", "fail", str(err), "correct [[followup.treasury_rates]]")]
    if rate_on(today, rates) is None:
        return [Check("interest", "warn",
                      f"no Treasury Prompt Payment rate for {today} ({', '.join(needing)}): "
                      "interest on items due now is reported unknown",
                      "add the period's published rate and its source as "
                      "[[followup.treasury_rates]] in claims.toml")]
    return [_ok("interest", f"a Treasury rate is known for {today}")]


def check_browser(ws: Workspace) -> list[Check]:
    """A Chromium for browser portals: a browser server, the configured one, Playwright's
    or the system's."""
    b = ws.settings.browser
    if b.ws_endpoint:
        return [_ok("browser", f"browser server {b.ws_endpoint} (not contacted)")]
    try:
        found = find_chromium(b.executable or None)
    except BrowserNotFound as err:  # one failed check, the others still reported
        return [Check("browser", "fail", str(err), "run `make browser` (or apt install "
                      "chromium), or set [browser] executable to a Chromium")]
    return [_ok("browser", "Playwright's own Chromium" if found is None else str(found))]


def run_checks(ws: Workspace, *, network: bool = True) -> list[Check]:
    """Every check, in the order a newcomer would fix them. A check that cannot run because
    an earlier one failed (no valid settings, no database) is left out."""
    first = check_settings(ws)
    if first[0].state == "fail":
        return first
    out = first + check_privacy(ws) + check_database(ws)
    if out[-1].state == "fail":
        return out
    steps: list[Callable[[], list[Check]]] = [
        lambda: check_templates(ws), lambda: check_smtp(ws, network=network),
        lambda: check_interest(ws, date.today()),
        lambda: check_portals(ws, network=network), lambda: check_browser(ws)]
    for step in steps:
        out += step()
    return out
