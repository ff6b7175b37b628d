"""Choropleth maps of a country's municipalities: one colour per class of one question (the
gap between demand and supply, supply, overlapping offers, planned arrivals), drawn on the
municipality boundaries, as SVG written by hand or as PNG through matplotlib.

The drawing is split in two. `layout` projects the boundaries to pixels and places the labels:
it depends only on the outlines, so it is kept per country and outline version and costs
nothing on later requests. `svg` and `png` then paint one `MapSpec` (title, classes, a class
per municipality) on that layout in a few milliseconds; matplotlib is imported only when a
PNG is asked for.

The projection is plate carrée with longitudes shrunk by the cosine of the middle latitude:
over a country the size of Kosovo it is within a fraction of a per cent of an equal-area
projection, and needs no projection library.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from core import geometry
from graph.outlines import Outline

WIDTH = 600  # pixels of the map itself; the legend stands to its right
MARGIN = 12
HEADER = 64  # title and subtitle
LEGEND_WIDTH = 250
FOOTER = 46  # attribution and data source
LABEL_SIZE = 10.0
VALUE_SIZE = 9.0

ATTRIBUTION = "© OpenStreetMap contributors, geoBoundaries"


@dataclass(frozen=True, slots=True)
class Shape:
    area_id: str
    names: Mapping[str, str]
    # SVG path data in pixels, one subpath per ring (even-odd fill keeps holes open).
    path: str
    rings: tuple[tuple[tuple[float, float], ...], ...]
    anchor: tuple[float, float]
    size: float  # area in square pixels, to label large municipalities first


@dataclass(frozen=True, slots=True)
class Layout:
    width: float
    height: float
    map_height: float
    shapes: tuple[Shape, ...]


@dataclass(frozen=True, slots=True)
class MapClass:
    key: str
    label: str
    colour: str


@dataclass(frozen=True, slots=True)
class MapSpec:
    """What one map says: classes in legend order, the class of each municipality, and a
    short value to print under its name (nothing for municipalities with nothing to say)."""

    title: str
    subtitle: str
    legend_title: str
    classes: Sequence[MapClass]
    classes_of: Mapping[str, str]
    values: Mapping[str, str]
    source: str
    language: str
    notes: Sequence[str] = field(default_factory=tuple)


def _rings(boundary: Mapping[str, Any]) -> list[list[tuple[float, float]]]:
    parts = [boundary["coordinates"]] if boundary["type"] == "Polygon" else boundary["coordinates"]
    return [[(float(x), float(y)) for x, y, *_ in ring] for part in parts for ring in part]


def _ring_area_centroid(ring: Sequence[tuple[float, float]]) -> tuple[float, float, float]:
    """Signed area and centroid of a ring (the shoelace formula)."""
    area = cx = cy = 0.0
    for (x1, y1), (x2, y2) in zip(ring, [*ring[1:], ring[0]], strict=True):
        cross = x1 * y2 - x2 * y1
        area += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    area /= 2
    if area == 0:
        return 0.0, ring[0][0], ring[0][1]
    return area, cx / (6 * area), cy / (6 * area)


def layout(outlines: Sequence[Outline]) -> Layout:
    """The outlines projected to fit WIDTH pixels, each with a label anchor inside it."""
    drawn = [o for o in outlines if o.boundary is not None]
    if not drawn:
        return Layout(
            width=WIDTH + LEGEND_WIDTH + 3 * MARGIN,
            height=HEADER + FOOTER + 120,
            map_height=120,
            shapes=(),
        )
    rings_of = {o.area_id: _rings(o.boundary or {}) for o in drawn}
    xs = [x for rings in rings_of.values() for ring in rings for x, _ in ring]
    ys = [y for rings in rings_of.values() for ring in rings for _, y in ring]
    west, east, south, north = min(xs), max(xs), min(ys), max(ys)
    squeeze = math.cos(math.radians((south + north) / 2))
    scale = WIDTH / ((east - west) * squeeze)
    map_height = (north - south) * scale

    def project(lon: float, lat: float) -> tuple[float, float]:
        return (
            round(MARGIN + (lon - west) * squeeze * scale, 1),
            round(HEADER + (north - lat) * scale, 1),
        )

    shapes = []
    for outline in drawn:
        rings = rings_of[outline.area_id]
        pixels = tuple(tuple(project(x, y) for x, y in ring) for ring in rings)
        path = " ".join("M" + " L".join(f"{x:g},{y:g}" for x, y in ring) + " Z" for ring in pixels)
        # The largest ring's centroid, if it falls inside the boundary; else the seat town.
        area, cx, cy = max((_ring_area_centroid(r) for r in rings), key=lambda a: abs(a[0]))
        shape = geometry.boundary(outline.boundary or {})
        if not shape.contains(cy, cx) and outline.centroid is not None:
            cx, cy = outline.centroid.lon, outline.centroid.lat
        shapes.append(
            Shape(
                area_id=outline.area_id,
                names=outline.names,
                path=path,
                rings=pixels,
                anchor=project(cx, cy),
                size=abs(area) * squeeze * scale * scale,
            )
        )
    return Layout(
        width=WIDTH + LEGEND_WIDTH + 3 * MARGIN,
        height=HEADER + map_height + FOOTER + MARGIN,
        map_height=map_height,
        shapes=tuple(shapes),
    )


# --- labels ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Label:
    area_id: str
    x: float
    y: float  # baseline of the name
    name: str
    value: str


# Where a label may stand, relative to its anchor, in order of preference.
CANDIDATES = (
    (0, 0),
    (0, -8),
    (0, 8),
    (14, 0),
    (-14, 0),
    (0, -14),
    (0, 14),
    (14, -10),
    (-14, -10),
    (14, 10),
    (-14, 10),
    (24, 0),
    (-24, 0),
    (0, -20),
    (0, 20),
)


def _text_width(text: str, size: float) -> float:
    # An average glyph of DejaVu Sans (the faces the maps name) is about 0.6 of its size wide.
    return len(text) * size * 0.6


def place_labels(
    plan: Layout, names: Mapping[str, str], values: Mapping[str, str], first: Sequence[str]
) -> list[Label]:
    """A name (and value) for as many municipalities as fit without two labels overlapping:
    those in `first`, then the larger ones, take their place first; each tries its anchor,
    then a little above, below, right and left of it. A label that fits nowhere is left out;
    the municipality's name stays in its tooltip and in the table beside the map."""
    order = {area: i for i, area in enumerate(first)}
    shapes = sorted(plan.shapes, key=lambda s: (order.get(s.area_id, len(order)), -s.size))
    taken: list[tuple[float, float, float, float]] = []
    labels = []
    for shape in shapes:
        name = names.get(shape.area_id, shape.area_id)
        value = values.get(shape.area_id, "")
        width = max(_text_width(name, LABEL_SIZE), _text_width(value, VALUE_SIZE)) + 2
        height = LABEL_SIZE + (VALUE_SIZE + 1 if value else 0) + 2
        ax, ay = shape.anchor
        for dx, dy in CANDIDATES:
            left, top = ax + dx - width / 2, ay + dy - height / 2
            box = (left, top, left + width, top + height)
            inside = (
                box[0] >= MARGIN
                and box[2] <= MARGIN + WIDTH
                and box[1] >= HEADER
                and box[3] <= HEADER + plan.map_height
            )
            if inside and not any(_overlap(box, other) for other in taken):
                taken.append(box)
                labels.append(
                    Label(shape.area_id, ax + dx, top + LABEL_SIZE, name=name, value=value)
                )
                break
    return labels


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


# --- painting --------------------------------------------------------------------------------

NO_DATA = "#ffffff"


def legend_title_lines(spec: MapSpec) -> list[str]:
    """The legend's title in lines that fit its column."""
    return textwrap.wrap(spec.legend_title, width=int(LEGEND_WIDTH / _text_width("x", 12))) or [""]


def legend_entries(spec: MapSpec) -> list[tuple[MapClass, int]]:
    """The classes some municipality falls in, in legend order, with how many do."""
    counts: dict[str, int] = {}
    for key in spec.classes_of.values():
        counts[key] = counts.get(key, 0) + 1
    return [(c, counts[c.key]) for c in spec.classes if counts.get(c.key)]


def _fills(spec: MapSpec) -> dict[str, str]:
    colours = {c.key: c.colour for c in spec.classes}
    return {area: colours.get(key, NO_DATA) for area, key in spec.classes_of.items()}


def _label_order(spec: MapSpec) -> list[str]:
    rank = {c.key: i for i, c in enumerate(spec.classes)}
    return sorted(
        (a for a in spec.values if spec.values[a]),
        key=lambda a: (rank.get(spec.classes_of.get(a, ""), len(rank)), a),
    )


def svg(plan: Layout, spec: MapSpec, names: Mapping[str, str]) -> bytes:
    """The map as a standalone SVG document."""
    fills = _fills(spec)
    labels = place_labels(plan, names, spec.values, _label_order(spec))
    w, h = plan.width, plan.height
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:g}" height="{h:g}" '
        f'viewBox="0 0 {w:g} {h:g}" lang="{escape(spec.language)}" role="img" '
        f'font-family="DejaVu Sans, Arial, sans-serif">',
        f"<title>{escape(spec.title)}</title>",
        f"<desc>{escape(spec.subtitle)}</desc>",
        f'<rect width="{w:g}" height="{h:g}" fill="#ffffff"/>',
        f'<text x="{MARGIN}" y="26" font-size="17" font-weight="bold">{escape(spec.title)}</text>',
        f'<text x="{MARGIN}" y="48" font-size="12" fill="#333">{escape(spec.subtitle)}</text>',
        '<g class="municipalities" stroke="#444" stroke-width="0.7" fill-rule="evenodd">',
    ]
    for shape in plan.shapes:
        name = names.get(shape.area_id, shape.area_id)
        value = spec.values.get(shape.area_id, "")
        tip = f"{name}: {value}" if value else name
        out.append(
            f'<path id="{escape(shape.area_id)}" data-area="{escape(shape.area_id)}" '
            f'fill="{fills.get(shape.area_id, NO_DATA)}" d="{shape.path}">'
            f"<title>{escape(tip)}</title></path>"
        )
    out.append("</g>")
    out.append(
        '<g class="labels" text-anchor="middle" paint-order="stroke" stroke="#fff" '
        'stroke-width="2.5" stroke-linejoin="round">'
    )
    for label in labels:
        out.append(
            f'<text x="{label.x:g}" y="{label.y:g}" font-size="{LABEL_SIZE:g}">'
            f"{escape(label.name)}</text>"
        )
        if label.value:
            out.append(
                f'<text x="{label.x:g}" y="{label.y + VALUE_SIZE + 1:g}" '
                f'font-size="{VALUE_SIZE:g}" font-weight="bold">{escape(label.value)}</text>'
            )
    out.append("</g>")
    x = MARGIN * 2 + WIDTH
    y = HEADER + 14
    out.append('<g class="legend">')
    for line in legend_title_lines(spec):
        out.append(f'<text x="{x}" y="{y}" font-size="12" font-weight="bold">{escape(line)}</text>')
        y += 15
    y -= 15
    for entry, count in legend_entries(spec):
        y += 22
        out.append(
            f'<rect x="{x}" y="{y - 12}" width="16" height="14" fill="{entry.colour}" '
            f'stroke="#444" stroke-width="0.7"/><text x="{x + 22}" y="{y}" font-size="11">'
            f"{escape(entry.label)} ({count})</text>"
        )
    for note in spec.notes:
        y += 20
        out.append(f'<text x="{x}" y="{y}" font-size="10" fill="#333">{escape(note)}</text>')
    out.append("</g>")
    out.append(
        f'<text x="{MARGIN}" y="{h - 26:g}" font-size="10" fill="#333">{escape(ATTRIBUTION)}'
        f'</text><text x="{MARGIN}" y="{h - 10:g}" font-size="10" fill="#333">'
        f"{escape(spec.source)}</text>"
    )
    out.append("</svg>")
    return "\n".join(out).encode("utf-8")


def png(plan: Layout, spec: MapSpec, names: Mapping[str, str], dpi: int = 110) -> bytes:
    """The same map as PNG: the same pixels, labels and legend, painted by matplotlib."""
    # Imported here: matplotlib costs a second to import, and most maps are SVG.
    from matplotlib.figure import Figure
    from matplotlib.patches import PathPatch, Rectangle
    from matplotlib.path import Path

    fills = _fills(spec)
    labels = place_labels(plan, names, spec.values, _label_order(spec))
    # One layout pixel is one point, so that text sizes mean what they mean in the SVG.
    figure = Figure(figsize=(plan.width / 72, plan.height / 72), dpi=dpi)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, plan.width)
    axes.set_ylim(plan.height, 0)
    axes.set_axis_off()
    for shape in plan.shapes:
        vertices: list[tuple[float, float]] = []
        codes: list[Any] = []
        for ring in shape.rings:
            vertices += [*ring, ring[0]]
            codes += [Path.MOVETO] + [Path.LINETO] * (len(ring) - 1) + [Path.CLOSEPOLY]
        axes.add_patch(
            PathPatch(
                Path(vertices, codes),
                facecolor=fills.get(shape.area_id, NO_DATA),
                edgecolor="#444444",
                linewidth=0.5,
            )
        )
    halo = _halo()
    for label in labels:
        axes.text(label.x, label.y, label.name, fontsize=LABEL_SIZE, ha="center", path_effects=halo)
        if label.value:
            axes.text(
                label.x,
                label.y + VALUE_SIZE + 1,
                label.value,
                fontsize=VALUE_SIZE,
                ha="center",
                fontweight="bold",
                path_effects=halo,
            )
    axes.text(MARGIN, 26, spec.title, fontsize=17, fontweight="bold")
    axes.text(MARGIN, 48, spec.subtitle, fontsize=12, color="#333333")
    x = MARGIN * 2 + WIDTH
    y = HEADER + 14
    for line in legend_title_lines(spec):
        axes.text(x, y, line, fontsize=12, fontweight="bold")
        y += 15
    y -= 15
    for entry, count in legend_entries(spec):
        y += 22
        axes.add_patch(
            Rectangle((x, y - 12), 16, 14, facecolor=entry.colour, edgecolor="#444444", lw=0.5)
        )
        axes.text(x + 22, y, f"{entry.label} ({count})", fontsize=11)
    for note in spec.notes:
        y += 20
        axes.text(x, y, note, fontsize=10, color="#333333")
    axes.text(MARGIN, plan.height - 26, ATTRIBUTION, fontsize=10, color="#333333")
    axes.text(MARGIN, plan.height - 10, spec.source, fontsize=10, color="#333333")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _halo() -> list[Any]:
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=2.5, foreground="white")]
