"""claims.toml: typed sections with defaults, unknown keys named (with a did-you-mean), the
environment overriding, and the CLI turning a bad file into one clear line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel

from claims.collections.dunning import template_environment
from claims.collections.settings import AgencyRule, FollowupSettings, Level, TreasuryRate
from claims.errors import InputError, UnknownName
from claims.payments.settings import MatchSettings
from claims.reports.settings import KpiSettings
from claims.settings import Settings, WitnessSettings, load_settings
from claims.sources.settings import InvoiceImportSettings, Mapping

#: Models whose entries are named by the user (a level, a mapping): their key fields have no
#: default, every other field has one.
ENTRY_REQUIRED = {(Level, "name"), (Level, "days"), (Mapping, "columns"),
                  (WitnessSettings, "url"), (WitnessSettings, "public_key"),
                  # a published rate period is all of its keys (no default rate, no default
                  # source)
                  (TreasuryRate, "start"), (TreasuryRate, "end"), (TreasuryRate, "percent"),
                  (TreasuryRate, "source")}


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "claims.toml"
    path.write_text(text, encoding="utf-8")
    return path


def models(model: type[BaseModel], seen: set[type[BaseModel]] | None = None
           ) -> set[type[BaseModel]]:
    """``model`` and every section model reachable from its fields."""
    seen = set() if seen is None else seen
    seen.add(model)
    for field in model.model_fields.values():
        for arg in _args(field.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in seen:
                models(arg, seen)
    return seen


def _args(annotation: object) -> list[object]:
    inner = list(getattr(annotation, "__args__", ()))
    return [annotation, *inner, *(a for i in inner for a in _args(i))]


def test_an_empty_file_gives_every_sections_defaults(tmp_path) -> None:
    settings = load_settings(config(tmp_path, ""))
    assert settings == Settings()
    assert settings.database.url == "sqlite:///claims.db" and settings.portals == {}
    assert settings.followup == FollowupSettings() and settings.agencies == {}
    assert settings.followup.smtp.host == "127.0.0.1" and len(settings.followup.levels) == 5
    assert settings.payments == MatchSettings() and settings.payments.tolerance == Decimal("1.00")
    assert settings.reports == KpiSettings() and settings.reports.dso_days == 90
    assert settings.invoice_import == InvoiceImportSettings()
    assert settings.invoice_import.mappings == {} and settings.invoice_import.zoho is None


def test_every_setting_has_a_help_line_and_a_default() -> None:
    for model in models(Settings):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            if (model, name) in ENTRY_REQUIRED or model.__name__ == "ZohoSettings":
                continue   # an entry's key, or a credential of an optional [invoice_import.zoho]
            assert not field.is_required(), f"{model.__name__}.{name} has no default"


def test_todays_tables_land_in_typed_sections(tmp_path) -> None:
    settings = load_settings(config(tmp_path, """
actor = "amina"
[followup]
language = "ar"
[followup.smtp]
port = 587
[[followup.levels]]
name = "only"
days = 10
[agencies."Ministry of Works"]
rule = "prompt-payment"
interest_rate_percent = "4.625"
[payments]
tolerance = "2.50"
[reports]
aging_buckets = [30, 60]
[invoice_import.mappings.erp]
columns = {number = "No", issue_date = "Date", customer = "Client"}
[invoice_import.zoho]
organization_id = "1"
client_id = "c"
client_secret = {env = "ZS"}
refresh_token = {env = "ZR"}
"""))
    assert settings.actor == "amina" and settings.followup.language == "ar"
    assert settings.followup.smtp.port == 587
    assert [lv.name for lv in settings.followup.levels] == ["only"]
    assert settings.agencies["Ministry of Works"] == AgencyRule(
        rule="prompt-payment", interest_rate_percent=Decimal("4.625"))
    assert settings.payments.tolerance == Decimal("2.50")
    assert settings.reports.aging_buckets == [30, 60]
    assert settings.invoice_import.mappings["erp"].columns["number"] == "No"
    zoho = settings.invoice_import.zoho
    assert zoho is not None and zoho.data_center == "com" and zoho.client_secret.env == "ZS"


@pytest.mark.parametrize("text, field, suggestion", [
    ("databse = 1\n", "databse", "database"),
    ("[followup.smtp]\nhots = 'x'\n", "followup.smtp.hots", "host"),
    ("[[followup.levels]]\nname = 'a'\ndays = 1\ntemplat = 'x'\n", "followup.levels.0.templat",
     "template"),
    ("[agencies.'X']\nrul = 'none'\n", "agencies.X.rul", "rule"),
    ("[portals.sandbox]\npassword = {evn = 'P'}\n", "portals.sandbox.password.evn", "env"),
    ("[invoice_import.mappings.m]\ncolumns = {}\ndelimeter = ';'\n",
     "invoice_import.mappings.m.delimeter", "delimiter"),
])
def test_an_unknown_key_is_named_with_a_suggestion(tmp_path, text, field, suggestion) -> None:
    path = config(tmp_path, text)
    with pytest.raises(UnknownName) as err:
        load_settings(path)
    assert err.value.file == str(path) and err.value.field == field
    assert err.value.suggestions == [suggestion]
    assert f"did you mean {suggestion}?" in str(err.value)


def test_an_unknown_key_far_from_any_lists_the_known_ones(tmp_path) -> None:
    with pytest.raises(UnknownName) as err:
        load_settings(config(tmp_path, "[payments]\nzzz = 1\n"))
    assert err.value.suggestions == [] and "did you mean" not in str(err.value)
    assert "known: auto_apply_threshold, monthly_target" in str(err.value)
    with pytest.raises(UnknownName, match="unknown setting 'extra'"):
        load_settings(config(tmp_path, "[extra]\nfollowup = {}\n"))   # no catch-all table


def test_a_bad_value_names_the_file_and_the_field(tmp_path) -> None:
    path = config(tmp_path, "[invoice_import.zoho]\ndata_center = 'xx'\norganization_id = '1'\n"
                            "client_id = 'c'\nclient_secret = {env = 'A'}\n"
                            "refresh_token = {env = 'B'}\n")
    with pytest.raises(InputError) as err:
        load_settings(path)
    assert err.value.file == str(path) and err.value.field == "invoice_import.zoho.data_center"
    assert "unknown data centre 'xx'" in str(err.value)
    path = config(tmp_path, "[invoice_import.zoho]\norganization_id = '1'\n")
    with pytest.raises(InputError) as err:
        load_settings(path)
    assert err.value.field == "invoice_import.zoho.client_id"


def test_an_import_mapping_with_an_unknown_encoding_is_refused_when_loaded(tmp_path) -> None:
    """The one rule of an encoding name (claims.core.config.text_encoding), as a bank's CSV
    mapping: refused when claims.toml is read, not when the first export is."""
    path = config(tmp_path, "[invoice_import.mappings.mine]\ncolumns = {number = 'No'}\n"
                            "encoding = 'no-such-codec'\n")
    with pytest.raises(InputError) as err:
        load_settings(path)
    assert err.value.field == "invoice_import.mappings.mine.encoding"
    assert str(err.value) == (f"{path}: invoice_import.mappings.mine.encoding: unknown "
                              "encoding 'no-such-codec' (a Python codec name such as utf-8-sig, "
                              "cp1252 or latin-1) [rule: settings]")


def test_the_environment_overrides_the_file(tmp_path, monkeypatch) -> None:
    path = config(tmp_path, "actor = 'file'\n[database]\nurl = 'sqlite:///file.db'\n")
    monkeypatch.setenv("CLAIMS_DATABASE_URL", "sqlite:///env.db")
    monkeypatch.setenv("CLAIMS_ACTOR", "env")
    monkeypatch.setenv("CLAIMS_BROWSER_WS_ENDPOINT", "ws://127.0.0.1:1")
    settings = load_settings(path)
    assert settings.database.url == "sqlite:///env.db" and settings.actor == "env"
    assert settings.browser.ws_endpoint == "ws://127.0.0.1:1" and settings.browser.headless


@pytest.mark.parametrize("value, message", [
    ("abc", "valid number"), ("-5", "greater than 0"), ("inf", "finite number"),
    ("1e999", "finite number"), ("99999999999999999999999", "less than or equal to 604800"),
])
def test_a_bad_value_from_the_environment_names_the_variable(tmp_path, monkeypatch, value,
                                                             message) -> None:
    """CLAIMS_LEASE_SECONDS=abc was reported as "claims.toml: lease.seconds", a key the file
    does not hold; an infinite or huge lease was taken (timedelta overflows on it)."""
    path = config(tmp_path, "")
    monkeypatch.setenv("CLAIMS_LEASE_SECONDS", value)
    with pytest.raises(InputError) as err:
        load_settings(path)
    assert err.value.file == "CLAIMS_LEASE_SECONDS (overrides claims.toml)"
    assert err.value.field == "lease.seconds" and message in str(err.value)
    monkeypatch.setenv("CLAIMS_LEASE_SECONDS", "30")
    assert load_settings(path).lease.seconds == 30
    monkeypatch.delenv("CLAIMS_LEASE_SECONDS")
    bad_file = config(tmp_path, "[lease]\nseconds = -1\n")  # from the file: the file named
    with pytest.raises(InputError) as err:
        load_settings(bad_file)
    assert err.value.file == str(bad_file)


@pytest.mark.parametrize("line, field, suggestion", [
    ("databse = 1", "databse", "database"),
    ("[followup.smtp]\nhots = 'x'", "followup.smtp.hots", "host"),
])
def test_the_cli_says_one_line_and_exits_1(cli, line, field, suggestion) -> None:
    assert cli("init", str(cli.root), workspace=None).exit_code == 0
    path = cli.root / "claims.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(f"{line}\n{text}" if "[" not in line else f"{text}\n{line}\n",
                    encoding="utf-8")
    result = cli("contract", "list")
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and f"{field}: unknown setting" in lines[0]
    assert f"did you mean {suggestion}?" in lines[0]


def test_template_folder_is_resolved_against_the_workspace_and_reused(tmp_path) -> None:
    own = FollowupSettings(templates_dir="mine")
    env = template_environment(own, tmp_path)
    assert env.loader.searchpath[0] == str(tmp_path / "mine")   # type: ignore[union-attr]
    assert template_environment(FollowupSettings(templates_dir="mine"), tmp_path) is env
    assert template_environment(FollowupSettings(), tmp_path) is not env
