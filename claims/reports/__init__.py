"""Collection performance: KPIs (:mod:`claims.reports.kpis`, formulas in docs/kpis.md) and the
weekly / monthly reports in HTML (inline SVG charts), XLSX (openpyxl) and JSON
(:mod:`claims.reports.render`)."""
