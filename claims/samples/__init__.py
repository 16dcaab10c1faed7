"""The sample kit: a contract, invoices and real PDFs for ``claims init --with-samples`` and
the demo.

Not used by any other slice."""
