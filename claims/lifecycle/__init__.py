"""The claim lifecycle: intake, documents, validation, bundle, submission (with leases), status sync."""
