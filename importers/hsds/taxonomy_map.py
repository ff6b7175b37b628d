"""Mapping of other taxonomies' terms to Homeward needs and target groups.

The mapping file (`taxonomy_map.json` beside this module by default) lists entries
`{"taxonomy": ..., "code": ..., "name": ..., "need": ...}` (or `"target_group"` instead of
`"need"`). An entry matches a term when the code is equal (case ignored) or the name is
equal once folded (case, diacritics, script), and, if the entry names a taxonomy, the
term's taxonomy has that name. The first matching entry wins. `default_need` files a service
none of whose terms maps to a need (HSDS services need not be classified; Homeward's must
name at least one need), and each such service is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from core.errors import ValidationFailed
from core.text import fold
from importers.hsds.assembly import TermInfo

DEFAULT_MAP = Path(__file__).resolve().parent / "taxonomy_map.json"


class MapEntry(BaseModel):
    taxonomy: str | None = None
    code: str | None = None
    name: str | None = None
    need: str | None = None
    target_group: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> MapEntry:
        if (self.need is None) == (self.target_group is None):
            raise ValueError("give exactly one of need and target_group")
        if self.code is None and self.name is None:
            raise ValueError("give a code or a name to match")
        return self


class MapFile(BaseModel):
    default_need: str | None = None
    terms: list[MapEntry] = Field(default_factory=list)


@dataclass
class TaxonomyMap:
    default_need: str | None
    by_code: dict[str, list[MapEntry]]
    by_name: dict[str, list[MapEntry]]

    def lookup(self, term: TermInfo) -> tuple[Literal["need", "target_group"], str] | None:
        candidates = [
            *(self.by_code.get(term.code.lower(), []) if term.code else []),
            *self.by_name.get(fold(term.name), []),
        ]
        for entry in candidates:
            if entry.taxonomy is None or fold(entry.taxonomy) == fold(term.taxonomy):
                if entry.need is not None:
                    return "need", entry.need
                assert entry.target_group is not None
                return "target_group", entry.target_group
        return None


def load_map(path: Path = DEFAULT_MAP) -> TaxonomyMap:
    try:
        data = MapFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationFailed.single(str(path), f"cannot read the mapping file: {exc}") from exc
    except ValidationError as exc:
        raise ValidationFailed.single(
            str(path), "; ".join(f"{e['loc']}: {e['msg']}" for e in exc.errors())
        ) from exc
    by_code: dict[str, list[MapEntry]] = {}
    by_name: dict[str, list[MapEntry]] = {}
    for entry in data.terms:
        if entry.code:
            by_code.setdefault(entry.code.lower(), []).append(entry)
        if entry.name:
            by_name.setdefault(fold(entry.name), []).append(entry)
    return TaxonomyMap(data.default_need, by_code, by_name)
