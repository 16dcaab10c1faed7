"""Claimwright: government-supplier invoices to accepted portal claims, collected and proven."""

__version__ = "0.1.0"
