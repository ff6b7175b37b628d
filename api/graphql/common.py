"""Small GraphQL types that several domains share, kept apart from any one domain's module so
that sharing them adds no import between the domains."""

from __future__ import annotations

import strawberry


@strawberry.type
class LocalizedName:
    lang: str = strawberry.field(description="BCP 47 tag, e.g. `sq`, `sr-Cyrl`.")
    value: str


@strawberry.type(name="GeoPoint")
class GeoPointType:
    lat: float
    lon: float
