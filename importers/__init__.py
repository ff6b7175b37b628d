"""Exchange formats in and out: imports (HSDS 3.0, CSV/XLSX sheets), exports (HSDS, HXL)
and the backup file. What every importer shares is here: the rows read (`rows`), the report
on them (`report`) and the batched writer of the planned records (`plan`)."""
