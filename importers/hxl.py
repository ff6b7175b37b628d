"""Tables as CSV with HXL hashtags (hxlstandard.org): a row of column titles, a row of
hashtags, then the data. The 3W table and every downloadable table of the coordination pages
are written here, so they share the conventions that make them open in Excel and merge in
HDX and the HXL Proxy:

- UTF-8 with a byte-order mark unless asked without, so that Excel reads "Pejë" as Pejë;
  libhxl and the HXL Proxy skip the mark.
- No cell starts a formula (core.text.spreadsheet_safe).
- Numbers stay numbers; a missing value is an empty cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from core.text import spreadsheet_safe

BOM = "\ufeff"


def hxl_csv(
    columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[object]], *, bom: bool = True
) -> str:
    """The CSV text of `rows` under `columns` (title, hashtag), titles and hashtags first."""
    out = io.StringIO()
    if bom:
        out.write(BOM)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([title for title, _ in columns])
    writer.writerow([tag for _, tag in columns])
    for row in rows:
        writer.writerow([spreadsheet_safe("" if cell is None else str(cell)) for cell in row])
    return out.getvalue()
