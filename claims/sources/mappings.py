"""The built-in column mappings: the reports they name, as those reports are exported.

* ``quickbooks`` — QuickBooks Online, Reports › "Sales by Customer Detail", exported to CSV or
  Excel. The export has the company name, the report name and the date range above the
  header; a leading empty column; a row naming each customer (text in the first cell only)
  above that customer's lines; a ``Total for <customer>`` row after them and a ``TOTAL`` row at
  the end; dates ``MM/DD/YYYY``; amounts with thousands separators, in subtotals with a ``$``.
  The default columns are Date, Transaction Type, Num, Product/Service, Memo/Description, Qty,
  Sales Price, Amount and Balance; the report carries no currency (the company's home currency:
  USD here; a Currency column, if added, wins) and no tax column (Tax Amount, if added, is
  read). Invoices and credit memos are stored; sales and refund receipts (paid at once, not
  receivables) are skipped with a warning naming the row.
* ``quickbooks-invoice-list`` — QuickBooks Online, Reports › "Invoice List", exported to CSV or
  Excel: one row per invoice. The same title block above the header as every QuickBooks Online
  report export (company, report name, date range; found, or ``--skip-rows``), and the same
  leading empty column, ``TOTAL`` row and footer when present. The report's default columns are
  Date, Transaction Type, Num, Customer, Memo/Description, Due Date, Amount and Open Balance;
  Amount is the invoice total (tax included; a Tax Amount column, if added, is read as its VAT,
  else the total is stored as net with no VAT); Open Balance is not read (balances come from
  payments). No currency column: the company's home currency, USD (a Currency column wins).
* ``sap`` — SAP FBL5N customer line items (German locale): as a ``;`` CSV, or SAP GUI's own
  spreadsheet export (UTF-16 with a byte-order mark, tab-separated, a title line above the
  header), both read. Document types: DR (and RV, billing) invoice, DG credit memo; DZ, the
  customer's payment, is not an invoice: skipped with a warning naming the row (payments come in
  through ``claims payments import``). SAP document numbers restart every fiscal year, so the
  stored number is ``<fiscal year>/<document number>`` (the document date's year when the
  export has no Fiscal Year column); the company code, when exported, is part of the origin's
  external id.
* ``sap-en`` — the same FBL5N list exported by a user whose SAP decimal notation is "X"
  (``1,234.56``, payments ``14,875.00-``) and date format MM/DD/YYYY. The mapping's declared
  locale decides what a separator means (:mod:`claims.sources.numbers`): a German-notation
  amount read through ``sap-en`` (or the other way round) is refused, naming the locale it reads
  as, never guessed. A user mapping in claims.toml sets ``locale`` for other combinations.
* ``oracle`` — Oracle Receivables transactions (one row per line), Contract Number optional.
"""

from __future__ import annotations

from typing import Any

from claims.sources.settings import Mapping

#: FBL5N's columns by their English field texts (the same in either number notation)
_SAP_COLUMNS = {"number": "Document Number", "issue_date": "Document Date",
                "due_date": "Net Due Date", "customer_id": "Customer", "customer": "Name 1",
                "tax_id": "VAT Registration No.", "currency": "Document currency",
                "total": "Amount in doc. curr.", "vat": "Tax amount",
                "contract_number": "Assignment", "doc_type": "Document Type",
                "fiscal_year": "Fiscal Year", "company_code": "Company Code"}
_SAP_OPTIONAL = ["doc_type", "fiscal_year", "company_code", "tax_id", "vat", "contract_number",
                 "due_date"]
_SAP_KINDS: dict[str, Any] = {"DR": "invoice", "RV": "invoice", "DG": "credit-note",
                              "DZ": "skip"}

BUILTIN: dict[str, Mapping] = {
    "quickbooks": Mapping(
        description="QuickBooks Online: Sales by Customer Detail report (CSV / XLSX export)",
        columns={"number": "Num", "issue_date": "Date", "doc_type": "Transaction Type",
                 "customer": "Customer", "description": "Memo/Description", "quantity": "Qty",
                 "unit_price": "Sales Price", "line_net": "Amount", "due_date": "Due Date",
                 "currency": "Currency", "line_vat": "Tax Amount", "customer_email": "Email"},
        optional=["doc_type", "customer", "description", "quantity", "unit_price", "due_date",
                  "currency", "line_vat", "customer_email"],
        kinds={"Invoice": "invoice", "Credit Memo": "credit-note", "Sales Receipt": "skip",
               "Refund Receipt": "skip"},
        group_rows=True, currency="USD", date_format="%m/%d/%Y", locale="en"),
    "quickbooks-invoice-list": Mapping(
        description="QuickBooks Online: Invoice List report (CSV / XLSX export)",
        columns={"issue_date": "Date", "doc_type": "Transaction Type", "number": "Num",
                 "customer": "Customer", "description": "Memo/Description",
                 "due_date": "Due Date", "total": "Amount", "currency": "Currency",
                 "vat": "Tax Amount", "customer_email": "Email"},
        optional=["doc_type", "description", "due_date", "currency", "vat", "customer_email"],
        kinds={"Invoice": "invoice", "Credit Memo": "credit-note"},
        group_rows=True, currency="USD", date_format="%m/%d/%Y", locale="en"),
    "sap": Mapping(
        description="SAP FBL5N customer line items (German locale; CSV or SAP GUI's "
                    "spreadsheet export)",
        columns=_SAP_COLUMNS, optional=_SAP_OPTIONAL, kinds=_SAP_KINDS,
        number_format="{fiscal_year}/{number}",
        date_format="%d.%m.%Y", locale="de", delimiter=";"),
    "sap-en": Mapping(
        description="SAP FBL5N customer line items (English locale: decimal notation X, "
                    "dates MM/DD/YYYY; CSV or SAP GUI's spreadsheet export)",
        columns=_SAP_COLUMNS, optional=_SAP_OPTIONAL, kinds=_SAP_KINDS,
        number_format="{fiscal_year}/{number}",
        date_format="%m/%d/%Y", locale="en", delimiter=","),
    "oracle": Mapping(
        description="Oracle Receivables transactions export (one row per line)",
        columns={"number": "Transaction Number", "issue_date": "Transaction Date",
                 "due_date": "Due Date", "customer": "Bill-to Customer Name",
                 "customer_id": "Bill-to Customer Number", "tax_id": "Taxpayer ID",
                 "currency": "Currency", "description": "Line Description",
                 "quantity": "Quantity", "unit_price": "Unit Selling Price",
                 "line_net": "Line Amount", "vat_percent": "Tax Rate", "line_vat": "Tax Amount",
                 "contract_number": "Contract Number"},
        optional=["contract_number", "tax_id", "customer_id"],
        date_format="%d-%b-%Y", locale="en"),
}
