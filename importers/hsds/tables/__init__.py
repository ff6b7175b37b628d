"""One importer per HSDS table. Each reads its rows into the drafts of an `Assembly`;
`LOAD_ORDER` in `importers/hsds/loader.py` runs them so that every table finds the records
it refers to already read."""
