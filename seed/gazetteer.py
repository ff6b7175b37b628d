"""Kosovo's settlements (GeoNames) and municipality boundaries (OpenStreetMap via
geoBoundaries) as area records, checked against each other before anything is written.

The files are copies of the project's reference geodata (see seed/SOURCES.md for sources and
licences). Each settlement row names its municipality by GeoNames' two-digit code; the
boundary file maps those codes to polygons and Albanian names, and the names to the
municipality records of `xk_municipalities.json`. A settlement whose point lies farther
than `TOLERANCE_KM` outside its municipality's polygon is an inconsistency, reported with
its line, like a malformed row.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import FieldProblem, ValidationFailed
from core.geometry import BadGeometry, Boundary, boundary
from core.text import fold, sr_cyrillic_to_latin
from graph.areas import AreaLevel, AreaRecord, GeoPoint

BOUNDARIES_FILE = "xk_municipalities.geojson"
SETTLEMENTS_FILE = "xk_settlements_geonames.tsv"
# Boundaries are simplified (a few hundred metres off in places, see SOURCES.md), so a village
# near a border may fall just outside its municipality's polygon without being wrong.
TOLERANCE_KM = 1.0
SOURCE = "GeoNames {id} (CC BY 4.0); municipality by point in OpenStreetMap boundary"
SETTLEMENT_COLUMNS = (
    "geonameid",
    "name",
    "asciiname",
    "alternatenames",
    "latitude",
    "longitude",
    "feature_class",
    "feature_code",
    "muni_code",
)
_ALBANIAN = set("ëçËÇ")
_SERBIAN = set("čćšžđČĆŠŽĐ")


@dataclass(frozen=True, slots=True)
class Municipality:
    area_id: str
    boundary: Boundary


def _is_cyrillic(text: str) -> bool:
    return any("\u0400" <= c <= "\u04ff" for c in text)


def read_boundaries(
    path: Path, municipalities: list[AreaRecord]
) -> tuple[dict[str, Municipality], dict[str, dict[str, Any]]]:
    """Per GeoNames municipality code its area and boundary, and per area id its GeoJSON
    geometry; raises ValidationFailed naming the feature."""
    try:
        collection = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValidationFailed.single(
            f"{path.name}:{exc.lineno}", f"not valid JSON: {exc.msg}"
        ) from exc
    features = collection.get("features") if isinstance(collection, dict) else None
    if not isinstance(features, list):
        raise ValidationFailed.single(path.name, "expected a GeoJSON FeatureCollection")
    by_name = {fold(r.names.get("sq", r.names["en"])): r.id for r in municipalities}
    found: dict[str, Municipality] = {}
    geometries: dict[str, dict[str, Any]] = {}
    problems: list[FieldProblem] = []
    for index, feature in enumerate(features):
        where = f"{path.name}:features[{index}]"
        props = feature.get("properties") or {} if isinstance(feature, dict) else {}
        code, name = str(props.get("code", "")), str(props.get("name_sq", ""))
        area_id = by_name.get(fold(name))
        if not code or area_id is None:
            problems.append(
                FieldProblem(
                    f"{where}.properties", f"no municipality named {name!r} (code {code!r})"
                )
            )
            continue
        try:
            geometry = feature["geometry"]
            shape = boundary(geometry)
        except (BadGeometry, KeyError, TypeError) as exc:
            problems.append(FieldProblem(f"{where}.geometry", str(exc)))
            continue
        if code in found:
            problems.append(FieldProblem(f"{where}.properties.code", f"code {code} used twice"))
            continue
        found[code] = Municipality(area_id=area_id, boundary=shape)
        geometries[area_id] = geometry
    if problems:
        raise ValidationFailed(problems)
    return found, geometries


def settlement_names(name: str, alternates: list[str]) -> tuple[dict[str, str], list[str]]:
    """Names per language from a GeoNames row, as far as the spelling tells the language:
    Cyrillic is Serbian, ë and ç are Albanian, č ć š ž đ Serbian Latin. English follows the
    Albanian form where there is one (as Kosovo's official English usage does); the main
    GeoNames name stays an alternate name."""
    spellings = list(dict.fromkeys([name, *alternates]))
    cyrillic = next((s for s in spellings if _is_cyrillic(s)), None)
    # Without ë or ç, a main name free of Serbian letters is the form Albanian uses too.
    albanian = next(
        (s for s in spellings if _ALBANIAN & set(s)),
        None if _SERBIAN & set(name) or _is_cyrillic(name) else name,
    )
    serbian = next(
        (s for s in spellings if _SERBIAN & set(s) and not _is_cyrillic(s)),
        sr_cyrillic_to_latin(cyrillic) if cyrillic else None,
    )
    names = {"en": albanian or name}
    if albanian:
        names["sq"] = albanian
    if serbian:
        names["sr-Latn"] = serbian
    if cyrillic:
        names["sr-Cyrl"] = cyrillic
    shown = set(names.values())
    return names, [s for s in spellings if s not in shown]


def read_settlements(path: Path, municipalities: dict[str, Municipality]) -> list[AreaRecord]:
    """Populated places (GeoNames class P) as settlements under their municipality. Every
    problem is named by its line; none is written if any is found."""
    records: list[AreaRecord] = []
    problems: list[FieldProblem] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = [c for c in SETTLEMENT_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValidationFailed.single(
                f"{path.name}:1", f"missing columns: {', '.join(missing)}"
            )
        for row in reader:
            where = f"{path.name}:{reader.line_num}"
            if None in row or any(row.get(c) is None for c in SETTLEMENT_COLUMNS):
                problems.append(FieldProblem(where, "wrong number of tab-separated fields"))
                continue
            if row["feature_class"] != "P":
                continue
            try:
                lat, lon = float(row["latitude"]), float(row["longitude"])
                point = GeoPoint(lat=lat, lon=lon)
            except ValueError:
                problems.append(FieldProblem(f"{where}.latitude", "not a WGS-84 coordinate"))
                continue
            municipality = municipalities.get(row["muni_code"])
            if municipality is None:
                problems.append(
                    FieldProblem(f"{where}.muni_code", f"unknown municipality {row['muni_code']!r}")
                )
                continue
            off_km = municipality.boundary.distance_km(lat, lon)
            if off_km > TOLERANCE_KM:
                problems.append(
                    FieldProblem(
                        f"{where}.latitude",
                        f"{row['name']} lies {off_km:.1f} km outside its municipality "
                        f"{municipality.area_id} (tolerance {TOLERANCE_KM:g} km)",
                    )
                )
                continue
            alternates = [a.strip() for a in row["alternatenames"].split(",") if a.strip()]
            names, alt_names = settlement_names(row["name"].strip(), alternates)
            try:
                records.append(
                    AreaRecord(
                        id=f"XK-gn-{row['geonameid']}",
                        level=AreaLevel.SETTLEMENT,
                        parent=municipality.area_id,
                        names=names,
                        alt_names=alt_names,
                        centroid=point,
                        source=SOURCE.format(id=row["geonameid"]),
                    )
                )
            except ValueError as exc:
                problems.append(FieldProblem(where, str(exc)))
    if problems:
        raise ValidationFailed(problems)
    return records
