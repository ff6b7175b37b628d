"""What an upload may unpack to, checked before anything parses it.

The upload's own size is bounded as it arrives (`HOMEWARD_IMPORT_MAX_BYTES`), but a zip (an
HSDS package, every XLSX workbook) can hold a thousand times its size, and JSON or XML can
nest or expand without limit. So before a parser sees a file:

- a zip may hold at most `MAX_MEMBERS` members and `MAX_UNPACKED_BYTES` once unpacked,
  counted as each member is inflated (the sizes a zip declares are not trusted);
- the XML of a workbook may declare no DTD or entity (billion laughs, external entities);
  openpyxl parses it with defusedxml too, which refuses them again;
- JSON may nest at most `MAX_JSON_DEPTH` deep, checked without parsing it;
- a spreadsheet cell may hold at most `MAX_CELL_CHARS` characters.
"""

from __future__ import annotations

import re
import zipfile
import zlib

from core.json_depth import too_deep_at
from importers.rows import MalformedInput

# An HSDS package has about twenty tables, a workbook about a dozen parts.
MAX_MEMBERS = 200
# Ten times a partner's longest plausible list; a 20,000-row workbook unpacks to about 30 MB.
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
# The longest field of a service (its description) is 5,000 characters.
MAX_CELL_CHARS = 10_000
# HSDS nests organisation > service > location > address > ...: a dozen levels at most.
MAX_JSON_DEPTH = 64

_CHUNK = 1024 * 1024
# A DTD is where entities are declared; no part of a workbook needs one.
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


class UnpacksTooLarge(MalformedInput):
    """An upload whose content, unpacked, is larger than any real one (413, not 422)."""


def check_zip(name: str, archive: zipfile.ZipFile, *, xml: bool = False) -> None:
    """Inflate every member once, counting: refuses too many members, too many bytes in all
    and, with `xml`, a member that declares a DTD, before any parser reads the archive."""
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > MAX_MEMBERS:
        raise UnpacksTooLarge(
            name, f"the zip holds {len(members)} files, more than {MAX_MEMBERS}; is it the file?"
        )
    total = 0
    for member in members:
        tail = b""
        try:
            with archive.open(member) as stream:
                while chunk := stream.read(_CHUNK):
                    total += len(chunk)
                    if total > MAX_UNPACKED_BYTES:
                        raise UnpacksTooLarge(
                            name,
                            f"unpacks to more than {MAX_UNPACKED_BYTES // (1024 * 1024)} MB "
                            f"(at {member.filename}); split it",
                        )
                    # The tail of the last chunk, so that a declaration cut in two is seen.
                    if xml and _DTD.search(tail + chunk):
                        raise MalformedInput(
                            f"{name}/{member.filename}",
                            "declares a DTD or entities, which no workbook needs; "
                            "save it again from a spreadsheet program",
                        )
                    tail = chunk[-16:]
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            where = f"{name}/{member.filename}"
            raise MalformedInput(where, f"cannot be unpacked ({exc})") from exc


def check_json_depth(name: str, text: str) -> None:
    at = too_deep_at(text, MAX_JSON_DEPTH)
    if at is not None:
        line = text.count("\n", 0, at) + 1
        raise MalformedInput(f"{name}:{line}", f"JSON nested more than {MAX_JSON_DEPTH} deep")


def check_cell(where: str, value: str) -> str:
    if len(value) > MAX_CELL_CHARS:
        raise MalformedInput(
            where, f"a cell of {len(value)} characters, more than {MAX_CELL_CHARS}; shorten it"
        )
    return value
