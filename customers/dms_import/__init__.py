"""The DMS import: a DMS export (customers.dms reads and parses it) staged, compared and written into
the CRM set-based; ``importer.DmsImport`` runs it, ``customers.services`` starts it and records its outcome."""
