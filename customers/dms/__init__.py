"""A DMS export as a file: reading it (sources), parsing its cells (parsing), the reference format
(reference) and a sample export (sample). Knows no model, so that models, forms and selectors may
use it; the import itself is customers.dms_import."""
