"""The collections slice's sections of claims.toml: ``[followup]``, ``[followup.smtp]``,
``[[followup.levels]]``, ``[followup.weights]``, ``[followup.escalation]`` and
``[agencies."<name>"]``, with built-in defaults so an empty file works. Pure: no I/O.

Example::

    [followup]
    language = "en"                 # when a customer's finance contact names none
    default_net_days = 30           # due date of an invoice with neither due date nor schedule

    [followup.smtp]
    host = "smtp.example.com"
    port = 587
    starttls = true                 # the default for any host but a loopback one
    username = "receivables@example.com"
    password = {env = "CLAIMS_SMTP_PASSWORD"}
    sender = "Receivables <receivables@example.com>"

    [[followup.levels]]
    name = "courtesy"
    days = -5                       # five days BEFORE the due date
    template = "statement"

    [agencies."Ministry of Works"]
    rule = "prompt-payment"
    interest_rate_percent = "4.625"
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from itertools import pairwise
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from claims.core.config import Section
from claims.core.due import BusinessCalendar, business_calendar
from claims.core.money import CURRENCIES
from claims.core.models import Amount
from claims.secrets import SecretRef


class SmtpSettings(Section):
    host: str = Field("127.0.0.1", description="SMTP server host")
    port: int = Field(25, ge=1, le=65535, description="SMTP server port")
    starttls: bool | None = Field(
        None, description="upgrade the connection with STARTTLS; default: on unless the host "
                          "is a loopback address (localhost, 127.0.0.0/8, ::1)")
    ssl: bool = Field(False, description="connect over TLS from the start (port 465)")
    ca_file: str = Field("", description="PEM file of the CA(s) to trust for the server's "
                                         "certificate, else the system's")
    username: str = Field("", description="login user; empty: no login")
    password: SecretRef | None = Field(None, description="where the login password is")
    timeout_seconds: float = Field(30.0, gt=0, description="per-command timeout")  # ok: not money
    sender: str = Field("Receivables <receivables@localhost>", description="From: header")
    reply_to: str = Field("", description="Reply-To: header, if any")
    connections: int = Field(4, ge=1, le=32, description="SMTP connections used in parallel")

    @property
    def loopback(self) -> bool:
        """True when the server is this machine (a login in clear text never leaves it)."""
        return is_loopback(self.host)

    @property
    def use_starttls(self) -> bool:
        """STARTTLS as configured, or on by default for a host that is not a loopback one."""
        if self.ssl:
            return False
        return (not self.loopback) if self.starttls is None else self.starttls


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address (127.0.0.0/8, ::1); other names are not
    resolved, so a name pointing at this machine still counts as remote."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Level(Section):
    """A dunning level: when (days relative to the due date), how, with which template."""

    name: str = Field(description="unique name, e.g. first-reminder")
    days: int = Field(description="days after the due date (negative: before it)")
    channel: Literal["email", "task"] = Field("email", description="email, or a call task")
    template: str = Field("statement", description="template name in the templates folder")
    owner: str = Field("", description="who owns the escalation at this level")
    final: bool = Field(False, description="the final notice (escalation counts from it)")


DEFAULT_LEVELS = (
    Level(name="courtesy", days=-5, template="statement"),
    Level(name="first-reminder", days=7, template="statement"),
    Level(name="second-reminder", days=21, template="statement"),
    Level(name="call", days=30, channel="task", owner="collector"),
    Level(name="final-notice", days=45, template="final", owner="finance-manager", final=True),
)


class Weights(Section):
    """How the worklist score is made from its parts (each part is shown)."""

    per_thousand_overdue: Amount = Field(Decimal("1"), description="points per 1,000 overdue")
    per_day_overdue: Amount = Field(Decimal("0.5"), description="points per day of the oldest")
    broken_promise: Amount = Field(Decimal("25"), description="points per broken promise")
    dispute: Amount = Field(Decimal("10"), description="points per open dispute")
    stuck_claim: Amount = Field(Decimal("15"), description="points per claim stuck at a status")
    defaulted_plan: Amount = Field(Decimal("30"), description="points per plan with a missed "
                                                                "instalment")


class EscalationPolicy(Section):
    """When legal action or a write-off is proposed."""

    legal_min_days: int = Field(120, description="days overdue before legal action is proposed")
    legal_min_amount: Amount = Field(Decimal("5000"), description="open amount for legal action")
    writeoff_min_days: int = Field(365, description="days overdue before a write-off is proposed")
    writeoff_max_amount: Amount = Field(Decimal("500"), description="largest amount to write off")
    no_answer_days: int = Field(14, description="days of silence after the final notice")


class TreasuryRate(Section):
    """One Prompt Payment rate period the shipped table lacks (``[[followup.treasury_rates]]``):
    published after this release, or not sourced by it. Its source is required."""

    start: date = Field(description="first day of the period (1 January or 1 July)")
    end: date = Field(description="last day of the period")
    percent: Amount = Field(gt=0, le=100, description="per annum, e.g. 4.125 for 4-1/8 %")
    source: str = Field(min_length=8, description="where it was published (Federal Register "
                                                  "citation or the Fiscal Service page)")

    @model_validator(mode="after")
    def _ordered(self) -> TreasuryRate:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class FollowupSettings(Section):
    """``[followup]``: reminders, their levels and templates, the mail server, the worklist."""

    language: str = Field("en", description="language when the contact names none (en or ar)")
    base_currency: str = Field("", description="currency the worklist and the escalation "
                                               "thresholds work in (rates: `claims rates "
                                               "import`); empty: amounts at face value")
    default_net_days: int = Field(30, ge=0, description="due date = issue + N without terms")
    templates_dir: str = Field("", description="own templates (else the built-in ones)")
    outbox_dir: str = Field("followup/outbox", description="where sent .eml files are kept")
    stuck_days: int = Field(30, ge=1, description="a claim at one status longer is 'stuck'")
    promise_grace_days: int = Field(0, ge=0, description="days after a promise date before "
                                                         "it counts as broken")
    plan_grace_days: int = Field(3, ge=0, description="days after an instalment before it is "
                                                      "missed")
    send_lease_seconds: int = Field(
        120, ge=2, description="a run's hold on a send in flight, renewed every quarter; a "
                                 "send whose run let it lapse (crashed) is reported stuck")
    smtp: SmtpSettings = Field(SmtpSettings(), description="the mail server reminders go through")
    levels: tuple[Level, ...] = Field(DEFAULT_LEVELS, description="the dunning levels, by days")
    weights: Weights = Field(Weights(), description="how the worklist score is made")
    escalation: EscalationPolicy = Field(EscalationPolicy(),
                                         description="when legal action or a write-off is "
                                                     "proposed")
    treasury_rates: tuple[TreasuryRate, ...] = Field(
        (), description="Prompt Payment rate periods added to the shipped table, each with its "
                        "source (a period the table has must not be restated differently)")

    @field_validator("treasury_rates")
    @classmethod
    def _no_overlap(cls, rates: tuple[TreasuryRate, ...]) -> tuple[TreasuryRate, ...]:
        ordered = sorted(rates, key=lambda r: r.start)
        for before, after in pairwise(ordered):
            if after.start <= before.end:
                raise ValueError(f"periods {before.start}..{before.end} and "
                                 f"{after.start}..{after.end} overlap")
        return tuple(ordered)

    @field_validator("base_currency")
    @classmethod
    def _known_currency(cls, code: str) -> str:
        if code and code not in CURRENCIES:
            raise ValueError(f"unknown currency {code!r} (ISO 4217 code expected)")
        return code

    @field_validator("levels")
    @classmethod
    def _unique_levels(cls, levels: tuple[Level, ...]) -> tuple[Level, ...]:
        names = [lv.name for lv in levels]
        if len(set(names)) != len(names):
            raise ValueError("level names must be unique")
        if len({lv.days for lv in levels}) != len(levels):
            raise ValueError("two levels have the same days")
        if not levels:
            raise ValueError("at least one level is needed")
        return tuple(sorted(levels, key=lambda lv: lv.days))


class AgencyRule(Section):
    """Statutory payment rules of one agency (e.g. the US Prompt Payment Act)."""

    rule: Literal["none", "prompt-payment"] = Field(
        "none", description="prompt-payment: due N days after the later of receipt and "
                            "acceptance, interest on late payment")
    payment_days: int = Field(30, ge=0, description="days to pay after approval / the later date")
    acceptance_days: int = Field(7, ge=0, description="acceptance deemed N days after delivery")
    interest_rate_percent: Amount = Field(
        Decimal("0"), description="a fixed annual rate agreed by contract; 0: the Treasury "
                                  "Prompt Payment rate in effect the day after the due date")
    compounding_days: int = Field(30, ge=1, description="interest compounds every N days")
    day_count: int = Field(360, description="days in the interest year")
    calendar: Literal["us-federal", "weekends", "none"] | None = Field(
        None, description="due dates on a non-business day move to the next business day: "
                          "us-federal (weekends + 5 U.S.C. 6103 holidays), weekends, none; "
                          "default us-federal under prompt-payment, else none")
    weekend: tuple[int, ...] = Field((5, 6), description="weekend days, 0 = Monday … 6 = Sunday")
    holidays: tuple[date, ...] = Field((), description="the agency's own extra holidays")
    treasury_rates: tuple[TreasuryRate, ...] = Field(
        (), description="set from [followup] treasury_rates (the same periods for every "
                        "agency); leave unset here")
    timezone: str = Field("UTC", description="the agency's IANA time zone (e.g. "
                                             "America/New_York): a receipt is dated on the "
                                             "agency's calendar day, not UTC's")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as "
                             "America/New_York)") from None
        return value

    def local_date(self, at: datetime) -> date:
        """The agency's calendar day at the instant ``at`` (the one rule for dating a receipt,
        issue 14 item 7): 23:30 on 2 March in Washington is 04:30 UTC on 3 March, and the
        agency received the invoice on 2 March."""
        aware = at if at.tzinfo else at.replace(tzinfo=UTC)
        return aware.astimezone(ZoneInfo(self.timezone)).date()

    def business_days(self, years: Iterable[int]) -> BusinessCalendar | None:
        """The agency's business-day calendar over ``years``, or ``None`` (no moving)."""
        kind = self.calendar or ("us-federal" if self.rule == "prompt-payment" else "none")
        if kind == "none" and not self.holidays:
            return None
        return business_calendar("none" if kind == "weekends" else kind, years=years,
                                 weekend=self.weekend, holidays=self.holidays)


class CollectionsConfig(Section):
    """What the collections code reads: the ``[followup]`` and ``[agencies]`` sections."""

    followup: FollowupSettings = Field(FollowupSettings(), description="the [followup] section")
    agencies: dict[str, AgencyRule] = Field(default_factory=dict,
                                            description="the [agencies] section")

    def agency(self, name: str) -> AgencyRule:
        """The rules of agency ``name`` (no statutory rule when claims.toml names none), with
        the Prompt Payment rate periods of ``[followup] treasury_rates``."""
        rule = self.agencies.get(name, AgencyRule())
        if self.followup.treasury_rates:
            rule = rule.model_copy(update={"treasury_rates": self.followup.treasury_rates})
        return rule

