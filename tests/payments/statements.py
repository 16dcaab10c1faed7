"""Generators of real bank statements for the tests: camt.053 XML (.001.02 and .001.08 layouts),
MT940 text (German :86: structured details) and bank CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

OUR_IBAN = "DE89370400440532013000"


@dataclass
class Tx:
    """One statement entry as the tests describe it."""

    amount: str
    value_date: date = date(2026, 11, 20)
    payer: str | None = None
    iban: str | None = None
    reference: str | None = None       # structured creditor reference
    e2e: str | None = None             # end-to-end id
    text: str | None = None            # unstructured remittance
    credit: bool = True
    currency: str = "EUR"
    bank_ref: str | None = None
    reversal: bool = False             # camt.053 RvslInd true / MT940 RC or RD mark


def _tx_details(tx: Tx, version: str, amount: bool = False) -> str:
    e = escape
    dbtr = ""
    if tx.payer:
        dbtr = (f"<Dbtr><Nm>{e(tx.payer)}</Nm></Dbtr>" if version == "02"
                else f"<Dbtr><Pty><Nm>{e(tx.payer)}</Nm></Pty></Dbtr>")
    acct = f"<DbtrAcct><Id><IBAN>{tx.iban}</IBAN></Id></DbtrAcct>" if tx.iban else ""
    rmt = ""
    if tx.text or tx.reference:
        strd = (f"<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
                f"<Ref>{e(tx.reference)}</Ref></CdtrRefInf></Strd>" if tx.reference else "")
        ustrd = f"<Ustrd>{e(tx.text)}</Ustrd>" if tx.text else ""
        rmt = f"<RmtInf>{ustrd}{strd}</RmtInf>"
    amt = (f'<AmtDtls><TxAmt><Amt Ccy="{tx.currency}">{tx.amount}</Amt></TxAmt></AmtDtls>'
           if amount else "")
    refs = (f"<Refs>{f'<AcctSvcrRef>{tx.bank_ref}</AcctSvcrRef>' if tx.bank_ref else ''}"
            f"<EndToEndId>{e(tx.e2e or 'NOTPROVIDED')}</EndToEndId></Refs>")
    return (f"<TxDtls>{refs}{amt}<RltdPties>{dbtr}{acct}</RltdPties>{rmt}</TxDtls>")


def camt053(entries: list[Tx | list[Tx]], *, version: str = "08", stmt_id: str = "STMT-2026-11-20",
            currency: str = "EUR") -> bytes:
    """A camt.053.001.<version> statement; a list inside ``entries`` is one batch entry."""
    ns = f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"
    body = []
    total = Decimal(0)
    for n, entry in enumerate(entries, start=1):
        txs = entry if isinstance(entry, list) else [entry]
        first = txs[0]
        amount = sum((Decimal(t.amount) for t in txs), Decimal(0))
        total += amount if first.credit else -amount
        status = "<Sts>BOOK</Sts>" if version == "02" else "<Sts><Cd>BOOK</Cd></Sts>"
        details = "".join(_tx_details(t, version, amount=len(txs) > 1) for t in txs)
        body.append(
            f'<Ntry><NtryRef>{n}</NtryRef><Amt Ccy="{first.currency}">{amount}</Amt>'
            f"<CdtDbtInd>{'CRDT' if first.credit else 'DBIT'}</CdtDbtInd>"
            f"{'<RvslInd>true</RvslInd>' if first.reversal else ''}{status}"
            f"<BookgDt><Dt>{first.value_date}</Dt></BookgDt><ValDt><Dt>{first.value_date}</Dt>"
            f"</ValDt><AcctSvcrRef>ENTRY-{stmt_id}-{n}</AcctSvcrRef>"
            f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"
            f"</Domn></BkTxCd><NtryDtls>{details}</NtryDtls></Ntry>")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{ns}">'
            f"<BkToCstmrStmt><GrpHdr><MsgId>MSG-{stmt_id}</MsgId>"
            f"<CreDtTm>2026-11-21T06:00:00</CreDtTm></GrpHdr>"
            f"<Stmt><Id>{stmt_id}</Id><ElctrncSeqNb>1</ElctrncSeqNb>"
            f"<CreDtTm>2026-11-21T06:00:00</CreDtTm>"
            f"<Acct><Id><IBAN>{OUR_IBAN}</IBAN></Id><Ccy>{currency}</Ccy></Acct>"
            f'<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="{currency}">0.00</Amt>'
            f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-20</Dt></Dt></Bal>"
            f'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="{currency}">'
            f"{abs(total)}</Amt><CdtDbtInd>{'CRDT' if total >= 0 else 'DBIT'}</CdtDbtInd>"
            f"<Dt><Dt>2026-11-20</Dt></Dt></Bal>"
            f"{''.join(body)}</Stmt></BkToCstmrStmt></Document>\n").encode()


def _mt_amount(value: Decimal) -> str:
    return f"{abs(value):.2f}".replace(".", ",")


def mt940(txs: list[Tx], *, opening: str = "1000.00", closing: str | None = None,
          truncate: bool = False) -> bytes:
    """An MT940 statement; ``truncate`` drops the closing balance like a cut-off download."""
    lines = [":20:STARTUMSE", f":25:{OUR_IBAN}", ":28C:00042/001",
             f":60F:C261119EUR{_mt_amount(Decimal(opening))}"]
    total = Decimal(opening)
    for tx in txs:
        amount = Decimal(tx.amount)
        total += amount if tx.credit else -amount
        d = tx.value_date.strftime("%y%m%d")
        ref = tx.e2e or "NONREF"
        mark = ("R" if tx.reversal else "") + ("C" if tx.credit != tx.reversal else "D")
        lines.append(f":61:{d}{d[2:]}{mark}{_mt_amount(amount)}NTRF{ref}"
                     + (f"//{tx.bank_ref}" if tx.bank_ref else ""))
        purpose = tx.text or ""
        chunks = [purpose[i:i + 27] for i in range(0, len(purpose), 27)] or [""]
        details = "?00GUTSCHRIFT" + "".join(f"?{20 + i}{c}" for i, c in enumerate(chunks[:9]))
        if tx.iban:
            details += f"?30COBADEFFXXX?31{tx.iban}"
        if tx.payer:
            details += f"?32{tx.payer[:27]}"
        lines.append(f":86:166{details}")
    if not truncate:
        final = Decimal(closing) if closing is not None else total
        lines.append(f":62F:{'C' if final >= 0 else 'D'}261120EUR{_mt_amount(final)}")
    return ("\r\n".join(lines) + "\r\n-").encode()


def bank_csv(txs: list[Tx], *, header: tuple[str, ...] = ("Buchungstag", "Betrag", "Waehrung",
             "Auftraggeber", "IBAN", "Verwendungszweck")) -> bytes:
    """A German-style bank CSV: ``;`` separated, ``dd.mm.yyyy`` dates, decimal comma."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(header)
    for tx in txs:
        amount = Decimal(tx.amount) * (1 if tx.credit else -1)
        writer.writerow([tx.value_date.strftime("%d.%m.%Y"), f"{amount:.2f}".replace(".", ","),
                         tx.currency, tx.payer or "", tx.iban or "", tx.text or ""])
    return out.getvalue().encode()


GERMAN_MAPPING = {
    "columns": {"date": "Buchungstag", "amount": "Betrag", "currency": "Waehrung",
                "payer_name": "Auftraggeber", "payer_iban": "IBAN",
                "remittance": "Verwendungszweck"},
    "date_format": "%d.%m.%Y", "decimal": ",", "delimiter": ";",
}
