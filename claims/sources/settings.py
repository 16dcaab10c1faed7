"""The invoice-sources slice's section of claims.toml: ``[invoice_import]``, holding the user's
column mappings for accounting exports (``[invoice_import.mappings.<name>]``) and the Zoho Books
connection (``[invoice_import.zoho]``). Pure: no I/O.

Example::

    [invoice_import.mappings.my-erp]
    date_format = "%d/%m/%Y"
    decimal = ","
    [invoice_import.mappings.my-erp.columns]
    number = "Invoice"
    issue_date = "Date"
    customer = "Client"
    total = "Total"

    [invoice_import.zoho]
    data_center = "sa"
    organization_id = "10234695"
    client_id = "1000.XXXX"
    client_secret = { env = "ZOHO_CLIENT_SECRET" }
    refresh_token = { env = "ZOHO_REFRESH_TOKEN" }
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from claims.core.config import Section, field_error, text_encoding, unknown_name_error
from claims.secrets import SecretRef
from claims.sources.numbers import LOCALES

#: The invoice fields a column can map to.
FIELDS = {
    "number": "invoice number (rows with the same number are the lines of one invoice)",
    "issue_date": "invoice date", "due_date": "due date", "currency": "ISO 4217 currency",
    "customer": "customer name", "customer_id": "the customer's id in the source system",
    "tax_id": "the customer's VAT / tax id", "customer_email": "customer email",
    "contact_name": "finance contact name", "contact_email": "finance contact email",
    "contract_number": "contract the invoice bills", "period_start": "service period start",
    "period_end": "service period end", "description": "line description",
    "quantity": "line quantity", "unit_price": "line unit price", "line_net": "line net",
    "vat_percent": "line VAT rate, %", "line_vat": "line VAT", "net": "invoice net",
    "vat": "invoice VAT", "total": "invoice total (checked against net + VAT)",
    "doc_type": "document type (the mapping's kinds say which are invoices, credit notes, "
                "or rows to skip, such as payments)",
    "fiscal_year": "fiscal year (SAP: document numbers repeat across years)",
    "company_code": "company code (SAP: part of the document's key)",
}


#: Zoho Books data centres (the domain suffix of the account).
DATA_CENTRES = ("com", "eu", "in", "sa", "com.au", "jp", "ca", "com.cn")

#: The OAuth accounts server of each data centre, as Zoho's OAuth documentation lists them:
#: ``accounts.zoho.<dc>``, except Canada's, which is ``accounts.zohocloud.ca``.
ACCOUNTS_SERVERS = {dc: f"https://accounts.zoho.{dc}" for dc in DATA_CENTRES} | {
    "ca": "https://accounts.zohocloud.ca"}


class Mapping(Section):
    """How to read one kind of export: its columns, and its dates and numbers."""

    description: str = Field("", description="what export this reads")
    columns: dict[str, str] = Field(description="invoice field → column header")
    date_format: str = Field("%Y-%m-%d", description="strptime format of the dates")
    locale: Literal["en", "de", "fr", "ch"] | None = Field(
        None, description="the export's number notation by name, which sets decimal and "
        "thousands: en 1,234.56; de 1.234,56; fr 1 234,56; ch 1'234.56. A number that does not "
        "fit it is refused, never guessed")
    decimal: Literal[".", ","] = Field(".", description="decimal separator")
    thousands: Literal[",", ".", " ", "'", ""] = Field(",", description="thousands separator")
    currency: str | None = Field(None, description="currency when there is no currency column")
    delimiter: str = Field(",", description="CSV field delimiter")
    encoding: str = Field("utf-8-sig", description="CSV text encoding")
    sheet: str | None = Field(None, description="XLSX sheet (default: the first)")
    vat_included_in_total: bool = Field(
        True, description="the total column is gross (net + VAT); else net = total")
    optional: list[str] = Field(
        default_factory=list, description="fields whose column a file may lack (e.g. Oracle's "
        "contract_number): read when present, empty when absent")
    skip_rows: int | None = Field(
        None, ge=0, description="rows above the header (title lines); default: the header is "
        "the first row whose cells hold every required column of the mapping")
    group_rows: bool = Field(
        False, description="report layout (QuickBooks): a row with text in its first cell only "
        "names the customer of the rows below it; a row whose first cell starts with 'Total' "
        "is a subtotal; both are skipped")
    kinds: dict[str, Literal["invoice", "credit-note", "skip"]] = Field(
        default_factory=dict, description="document type (the doc_type column) → invoice, "
        "credit-note or skip (a payment, a cash sale: reported as skipped, never stored); a "
        "type not listed is an error naming the row")
    number_format: str = Field(
        "{number}", description="the stored invoice number from fields, e.g. "
        "\"{fiscal_year}/{number}\" (SAP numbers repeat across fiscal years)")

    @model_validator(mode="before")
    @classmethod
    def _locale_sets_notation(cls, data: Any) -> Any:
        """``locale`` fills in ``decimal`` and ``thousands``; given as well, they must agree."""
        if not isinstance(data, dict) or data.get("locale") not in LOCALES:
            return data
        decimal, thousands = LOCALES[data["locale"]]
        for name, value in (("decimal", decimal), ("thousands", thousands)):
            if name in data and data[name] != value:
                raise field_error(name, f"{data[name]!r} contradicts locale "
                                        f"{data['locale']!r} (whose {name} is {value!r})")
        return {**data, "decimal": decimal, "thousands": thousands}

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, columns: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(columns) - set(FIELDS))
        if unknown:
            raise unknown_name_error("invoice field", unknown[0], FIELDS)
        return columns

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, name: str) -> str:
        return text_encoding(name)

    @field_validator("number_format")
    @classmethod
    def _known_placeholders(cls, template: str) -> str:
        names = re.findall(r"{([^{}]*)}", template)
        if "number" not in names:
            raise ValueError("must contain {number}")
        for name in names:
            if name not in ("number", "fiscal_year", "company_code"):
                raise ValueError(f"{{{name}}} is not one of {{number}}, {{fiscal_year}}, "
                                 "{company_code}")
        return template


class ZohoSettings(Section):
    """``[invoice_import.zoho]`` in claims.toml. When the table is given, the organisation,
    the client id and the two secret references are required."""

    data_center: str = Field("com", description="the account's data centre: " +
                             ", ".join(DATA_CENTRES))
    organization_id: str = Field(description="Zoho Books organization_id")
    client_id: str = Field(description="OAuth client id (not a secret)")
    client_secret: SecretRef = Field(description="where the OAuth client secret is")
    refresh_token: SecretRef = Field(description="where the OAuth refresh token is")
    accounts_url: str = Field("", description="override of https://accounts.zoho.<dc>")
    api_url: str = Field("", description="override of https://www.zohoapis.<dc>/books/v3")
    per_page: int = Field(200, ge=1, le=200, description="invoices per list page (max 200)")
    fetch_pdf: bool | Literal["open"] = Field(
        "open", description="download invoice PDFs: true (every sent invoice), \"open\" (only "
        "those with a balance due, the ones a claim can be made for), false (none); never for "
        "drafts and voids, and only for invoices added or changed")
    max_retries: int = Field(6, ge=0, le=20, description="retries of one request (429, 5xx)")
    requests_per_minute: int = Field(90, ge=0, description="client-side pace; 0: unpaced "
                                     "(Zoho allows 100 per minute per organisation)")
    timeout_seconds: float = Field(30.0, gt=0, description="per request")  # ok: not money
    daily_request_budget: int = Field(
        1000, ge=0, description="API requests this workspace may send to the organisation per "
        "UTC day: your plan's daily limit (Free 1,000; see your plan) less what other "
        "integrations use; 0: no limit. Counted in the store across runs; a run stops cleanly "
        "before passing it and the next run resumes from where it stopped")

    @model_validator(mode="after")
    def _known_data_centre(self) -> ZohoSettings:
        if self.data_center not in DATA_CENTRES and not self.api_url:
            raise field_error("data_center", f"unknown data centre {self.data_center!r}; one "
                                             f"of {', '.join(DATA_CENTRES)}")
        return self

    def accounts(self) -> str:
        """The OAuth accounts server's base URL."""
        return (self.accounts_url or ACCOUNTS_SERVERS.get(self.data_center)
                or f"https://accounts.zoho.{self.data_center}").rstrip("/")

    def api(self, api_domain: str | None) -> str:
        """The Books API base URL (``api_domain`` is what the token response named, if any)."""
        if self.api_url:
            return self.api_url.rstrip("/")
        domain = api_domain or f"https://www.zohoapis.{self.data_center}"
        return f"{domain.rstrip('/')}/books/v3"


class InvoiceImportSettings(Section):
    """``[invoice_import]``: the user's export mappings and the Zoho Books connection."""

    mappings: dict[str, Mapping] = Field(
        default_factory=dict, description="your column mappings, by name (beside the built-in "
                                          "quickbooks, quickbooks-invoice-list, sap, sap-en "
                                          "and oracle)")
    zoho: ZohoSettings | None = Field(None, description="the Zoho Books connection, if any")
