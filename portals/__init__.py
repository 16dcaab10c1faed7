"""Everything that talks to a government portal.

`portals` never imports `claims`: an adapter receives a :class:`portals.base.SubmissionPackage`
(form fields plus files with their document types) and returns receipts and status reports.
"""
