"""The claim lifecycle: intake, documents, validation, bundle, submission (with leases) and
status sync."""
