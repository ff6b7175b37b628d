"""Geocoders: the offline gazetteer, and geopy's Nominatim against a loopback stand-in."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from graph.driver import Graph
from graph.geocoding import GazetteerGeocoder, NominatimGeocoder, place_sites
from tests import directory


async def test_the_gazetteer_places_an_address_in_its_town(countries: Graph) -> None:
    geocoder = GazetteerGeocoder(countries)
    point = await geocoder.locate("Rruga Remzi Ademaj 12, Prizren, Kosovo")
    assert point is not None
    assert (point.lat, point.lon) == pytest.approx((42.2139, 20.7397))
    # Cyrillic spelling, and a country alone gives the country's centroid.
    assert await geocoder.locate("Призрен") == point
    kosovo = await geocoder.locate("Kosova")
    assert kosovo is not None
    assert kosovo.lat == pytest.approx(42.6)
    assert await geocoder.locate("Atlantis") is None


async def test_sites_without_points_are_placed(countries: Graph) -> None:
    data = directory.service(
        locations=[
            {"area": "XK-prizren", "address": "Sheshi i Lidhjes, Prizren"},
            {"area": "XK-prizren", "point": {"lat": 42.2, "lon": 20.7}},
            {"area": "XK-prizren", "address": "nowhere known"},
        ]
    )
    placed = await place_sites(data, GazetteerGeocoder(countries))
    points = [site.point for site in placed.locations]
    assert points[0] is not None
    assert points[0].lat == pytest.approx(42.2139)
    assert points[1] == data.locations[1].point
    assert points[2] is None  # written at the area's centroid later


class _Nominatim(BaseHTTPRequestHandler):
    seen: list[tuple[str, str]] = []  # noqa: RUF012 - one test server, reset per fixture

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        _Nominatim.seen.append((query["q"][0], self.headers["User-Agent"]))
        found = query["q"][0].startswith("Prizren")
        body = [{"lat": "42.2139", "lon": "20.7397", "display_name": "Prizren"}] if found else []
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def nominatim() -> Iterator[str]:
    _Nominatim.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Nominatim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_nominatim_through_geopy(nominatim: str) -> None:
    geocoder = NominatimGeocoder(
        user_agent="homeward-tests", domain=nominatim, scheme="http", min_delay_s=0.0
    )
    point = await geocoder.locate("Prizren, Kosovo")
    assert point is not None
    assert (point.lat, point.lon) == pytest.approx((42.2139, 20.7397))
    assert await geocoder.locate("Atlantis") is None
    assert _Nominatim.seen == [
        ("Prizren, Kosovo", "homeward-tests"),
        ("Atlantis", "homeward-tests"),
    ]
