"""Readers and writers of exchange formats (HSDS 3.0, CSV/XLSX, HXL)."""
