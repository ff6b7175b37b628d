"""`locations`: the sites where services are delivered. Coordinates must be numbers (else
the row is rejected); a point outside WGS-84's range is dropped with a warning and the site
is placed at its area's centroid, like a site without coordinates."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, Fields, LocationDraft
from importers.hsds.profile import IDENTIFIER_SCHEME
from importers.rows import Row

TABLE = "locations"
USED = {"id", "name", "latitude", "longitude", "organization_id"}


def load(assembly: Assembly, rows: list[Row]) -> None:
    for row in rows:
        assembly.report.read[TABLE] += 1
        fields = Fields(row, assembly.report)
        id = fields.uuid("id", required=True)
        latitude = fields.number("latitude")
        longitude = fields.number("longitude")
        organization_id = fields.uuid("organization_id")
        if not fields.ok or id is None:
            assembly.report.rejected[TABLE] += 1
            continue
        draft = LocationDraft(row=row, hsds_id=id, organization_id=organization_id)
        draft.name = fields.text("name")
        draft.virtual = (fields.text("location_type") or "").lower() == "virtual"
        if (latitude is None) != (longitude is None):
            fields.warn(
                "latitude", "latitude and longitude come together; the one given is dropped"
            )
        elif latitude is not None and longitude is not None:
            if not -90 <= latitude <= 90 or not -180 <= longitude <= 180:
                fields.warn(
                    "latitude" if not -90 <= latitude <= 90 else "longitude",
                    f"({latitude:g}, {longitude:g}) is not a WGS-84 point; the site is placed "
                    "at its area's centroid",
                )
            else:
                draft.latitude, draft.longitude = latitude, longitude
        if fields.text("external_identifier_type") == IDENTIFIER_SCHEME:
            draft.external_id = fields.text("external_identifier")
            draft.extras.keep_fields(
                row, USED | {"external_identifier", "external_identifier_type"}
            )
        else:
            draft.extras.keep_fields(row, USED)
        if organization_id and organization_id not in assembly.organisations:
            fields.warn("organization_id", f"no organisation {organization_id}; ignored")
        assembly.locations[id] = draft
