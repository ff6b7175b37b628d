"""Duplicate detection: quality on a labelled set, beside splink, and the batch scan on M.

    python -m bench.duplicates quality [--seed N]        # needs the `bench` group (splink)
    python -m bench.duplicates scan [--runs 3]           # on the benchmark Neo4j with M loaded

**The labelled set** is generated from the reference data: the seed's 45 organisations and,
from the gazetteer, the offices every municipality of Kosovo, Albania and Serbia has (centre
for social work, office for communities and returns, employment office), named in the
local language with a Serbian or English alternate name: 150 or so records that differ in
one word, the town, which makes them the hard non-duplicates. A third of the records get a
second record entered as a duplicate, each with one or two of: a typo, diacritics dropped,
the Serbian name in Cyrillic, the acronym instead of the name, another phone format, the
website written differently, changed case and punctuation; half of those lose their phone
or e-mail. Pairs are labelled by construction; precision and recall are over pairs.

**splink** (DuckDB backend) gets the same records as columns (folded name, acronym,
website domain, phone digits, e-mail, country, area), blocked on phone, domain, e-mail,
acronym and the first letters of the name, with Jaro-Winkler levels on the name, its
parameters estimated without labels (u by random sampling, m by expectation maximisation);
pairs with match probability at least 0.5 are its predictions.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass, replace
from typing import Annotated, Any, LiteralString

import typer
from rich.console import Console
from rich.table import Table

from bench.neo4j import bench_graph, bench_instance
from bench.search import cpu_ms
from core.text import fold, sr_latin_to_cyrillic
from graph.duplicates import (
    THRESHOLD,
    Kind,
    OrganisationFeatures,
    find_matches,
    organisation_candidates,
    organisation_features,
    phone_digits,
    scan,
    service_candidates,
    website_domain,
)
from graph.duplicates.queries import features_by_id
from graph.migrations import migrate
from homeward import neo4j_server
from seed.loader import read_seed

app = typer.Typer(help="Duplicate detection benchmarks.", no_args_is_help=True)
console = Console()

DEFAULT_SEED = 20261124
DUPLICATE_SHARE = 1 / 3

# Offices every municipality has: (kind, name in Albanian, in Serbian, acronym).
OFFICES = (
    ("csw", "Qendra për Punë Sociale", "Centar za socijalni rad", "QPS"),
    ("mocr", "Zyra Komunale për Komunitete dhe Kthim",
     "Opštinska kancelarija za zajednice i povratak", "ZKKK"),
    ("emp", "Zyra e Punësimit", "Biro za zapošljavanje", "ZP"),
)  # fmt: skip


@dataclass(slots=True)
class Entry:
    id: str
    name: str
    alternate_names: list[str]
    acronym: str | None
    website: str | None
    phone: str | None
    email: str | None
    country: str
    area: str | None
    serbian: str | None = None  # a Serbian Latin name, for a Cyrillic variant
    original: str | None = None  # for a duplicate: the record it repeats
    changes: str = ""

    def features(self) -> OrganisationFeatures:
        return organisation_features(
            id=self.id,
            name=self.name,
            alternate_names=self.alternate_names,
            acronym=self.acronym,
            domain=website_domain(self.website),
            phone=phone_digits(self.phone),
            email=self.email,
            country=self.country,
            area=self.area or self.country,
        )


def _base_entries(rng: random.Random) -> list[Entry]:
    data = read_seed()
    entries = [
        Entry(
            id=o.id,
            name=o.name,
            alternate_names=list(o.alternate_names),
            acronym=o.acronym,
            website=str(o.website) if o.website else None,
            phone=o.phone,
            email=o.email,
            country=o.country,
            area=o.based_in,
        )
        for o in data.organisations
        if o.id != "xk-1to1-kosove"  # the seed's own planted duplicate
    ]
    codes = {"XK": "+383 38", "AL": "+355 4", "RS": "+381 11"}
    known = {fold(n) for e in entries for n in [e.name, *e.alternate_names]}
    for area in data.areas:
        if area.level.value != "municipality" or area.parent is None:
            continue
        country = area.id.split("-")[0]
        if country not in codes:
            continue
        town = area.names.get("sq") or area.names["en"]
        town_sr = area.names.get("sr-Latn") or town
        slug = area.id.lower()
        for kind, sq, sr, acronym in OFFICES:
            name = f"{sq} {town}" if country != "RS" else f"{sr} {town_sr}"
            if fold(name) in known:
                continue  # the seed has this office already
            entries.append(
                Entry(
                    id=f"{slug}-{kind}",
                    name=name,
                    alternate_names=[f"{sr} {town_sr}"] if country == "XK" else [],
                    acronym=f"{acronym}-{town[:3].upper()}" if rng.random() < 0.3 else None,
                    website=f"https://{kind}-{slug}.example.org/" if rng.random() < 0.6 else None,
                    phone=f"{codes[country]} {rng.randint(100, 999)} {rng.randint(100, 999)}",
                    email=f"info@{kind}-{slug}.example.org" if rng.random() < 0.5 else None,
                    country=country,
                    area=area.id,
                    serbian=f"{sr} {town_sr}",
                )
            )
    return entries


def _typo(text: str, rng: random.Random) -> str:
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    i = rng.choice(letters[1:] or letters)
    how = rng.choice(("swap", "drop", "double"))
    if how == "swap" and i + 1 < len(text):
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if how == "drop":
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i] + text[i:]


def _reformat_phone(phone: str, rng: random.Random) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    local = "0" + digits[3:]
    return rng.choice(
        (
            f"00{digits}",
            f"{local[:3]}/{local[3:6]}-{local[6:]}",
            f"+{digits[:3]} ({digits[3:5]}) {digits[5:]}",
        )
    )


def _duplicate(entry: Entry, number: int, rng: random.Random) -> Entry:
    dup = Entry(
        id=f"dup-{number:04d}",
        name=entry.name,
        alternate_names=[],
        acronym=entry.acronym,
        website=entry.website,
        phone=entry.phone,
        email=entry.email,
        country=entry.country,
        area=entry.area,
        original=entry.id,
    )
    possible = ["typo", "diacritics", "case", "phone format", "website"]
    if entry.serbian:
        possible.append("cyrillic")
    if entry.acronym:
        possible.append("acronym")
    changes = rng.sample(possible, k=rng.choice((1, 2)))
    for change in changes:
        if change == "typo":
            dup.name = _typo(dup.name, rng)
        elif change == "diacritics":
            dup.name = fold(dup.name).title()
        elif change == "case":
            dup.name = dup.name.upper().replace(" ", " - ", 1)
        elif change == "phone format" and dup.phone:
            dup.phone = _reformat_phone(dup.phone, rng)
        elif change == "website" and dup.website:
            dup.website = dup.website.replace("https://", "http://www.") + "en/"
        elif change == "cyrillic" and entry.serbian:
            dup.name = sr_latin_to_cyrillic(entry.serbian)
        elif change == "acronym" and entry.acronym:
            town = entry.area.split("-", 1)[-1].title() if entry.area else ""
            dup.name = f"{entry.acronym} {town}".strip()
    if rng.random() < 0.5:
        if rng.random() < 0.5:
            dup.phone = None
        else:
            dup.email = None
    dup.changes = ", ".join(changes)
    return dup


def labelled_set(seed: int) -> tuple[list[Entry], set[tuple[str, str]]]:
    rng = random.Random(seed)
    entries = _base_entries(rng)
    duplicates = [
        _duplicate(e, n, rng) for n, e in enumerate(entries) if rng.random() < DUPLICATE_SHARE
    ]
    truth = {tuple(sorted((d.id, d.original))) for d in duplicates if d.original}
    return entries + duplicates, {(a, b) for a, b in truth}


@dataclass(slots=True)
class Quality:
    method: str
    predicted: int
    true_positives: int
    truth: int
    seconds: float

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.truth if self.truth else 0.0


def run_ours(entries: list[Entry], truth: set[tuple[str, str]]) -> Quality:
    started = time.perf_counter()
    records = [e.features() for e in entries]
    matches, *_ = find_matches(Kind.ORGANISATION, records, min_score=THRESHOLD)
    predicted = {tuple(sorted((records[i].id, records[j].id))) for i, j, _ in matches}
    seconds = time.perf_counter() - started
    return Quality(
        "homeward (graph.duplicates)", len(predicted), len(predicted & truth), len(truth), seconds
    )


def run_splink(entries: list[Entry], truth: set[tuple[str, str]]) -> Quality:
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for e in entries:
        f = e.features()
        rows.append(
            {
                "unique_id": e.id,
                "name": f.names[0][1] if f.names else None,
                "name_prefix": f.names[0][1][:4] if f.names else None,
                "acronym": f.acronym,
                "domain": f.domain,
                "phone": f.phone,
                "email": f.email,
                "country": f.country,
                "area": f.area,
            }
        )
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("name", [0.95, 0.88, 0.8]),
            cl.ExactMatch("acronym"),
            cl.ExactMatch("domain"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("email"),
            cl.ExactMatch("country"),
            cl.ExactMatch("area"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("phone"),
            block_on("domain"),
            block_on("email"),
            block_on("acronym"),
            block_on("name_prefix"),
        ],
    )
    db = DuckDBAPI()
    linker = Linker(db.register(rows), settings, log_level="ERROR")
    linker.training.estimate_probability_two_random_records_match(
        [block_on("phone"), block_on("email")], recall=0.6
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=200_000, seed=1)
    for rule in (block_on("name_prefix"), block_on("phone")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=0.5).as_record_list()
    predicted = {tuple(sorted((p["unique_id_l"], p["unique_id_r"]))) for p in predictions}
    seconds = time.perf_counter() - started
    return Quality("splink 5 (DuckDB)", len(predicted), len(predicted & truth), len(truth), seconds)


@app.command("quality")
def quality_command(
    seed: Annotated[int, typer.Option(help="Seed of the labelled set.")] = DEFAULT_SEED,
) -> None:
    """Precision and recall of the scorer and of splink on the labelled set."""
    entries, truth = labelled_set(seed)
    console.print(f"labelled set: {len(entries)} records, {len(truth)} duplicate pairs")
    table = Table("method", "predicted pairs", "true", "precision", "recall", "seconds")
    for result in (run_ours(entries, truth), run_splink(entries, truth)):
        table.add_row(
            result.method,
            str(result.predicted),
            str(result.true_positives),
            f"{result.precision:.3f}",
            f"{result.recall:.3f}",
            f"{result.seconds:.2f}",
        )
    console.print(table)


PLANTED: LiteralString = """
MATCH (d:Organisation) WHERE d.bench_duplicate_of IS NOT NULL
RETURN d.id AS a, d.bench_duplicate_of AS b
"""
FOUND: LiteralString = """
MATCH (a:Organisation)-[:POSSIBLY_SAME_AS]->(b:Organisation) RETURN a.id AS a, b.id AS b
"""


@app.command("scan")
def scan_command(
    runs: Annotated[
        int, typer.Option(min=1, max=10, help="Timed runs; the median is reported.")
    ] = 3,
) -> None:
    """Time `homeward duplicates scan` (both kinds) on the benchmark Neo4j, which must be
    running with M loaded (`python -m bench.dataset start`)."""

    async def main() -> list[dict[str, float]]:
        async with bench_graph() as graph:
            await migrate(graph)
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                reports = [await scan(graph, kind=kind) for kind in Kind]
                timing = {f"{r.kind.value} {k}": v for r in reports for k, v in r.seconds.items()}
                timing["total"] = time.perf_counter() - started
                timings.append(timing)
                console.print(
                    f"run: {timing['total']:.1f} s; "
                    + "; ".join(
                        f"{r.kind.value}s {r.records:,} records, {r.pairs_compared:,} pairs, "
                        f"{r.candidates:,} candidates ({r.new} new)"
                        for r in reports
                    )
                )
            async with graph.driver.session() as session:
                planted = {tuple(sorted(r)) async for r in await session.run(PLANTED)}
                found = {tuple(sorted(r)) async for r in await session.run(FOUND)}
            hit = len(planted & found)
            console.print(
                f"planted organisation duplicates of M: {len(planted)}; found {hit} "
                f"(recall {hit / max(1, len(planted)):.3f}); "
                f"{len(found)} organisation candidates in all"
            )
            return timings

    console.print(f"benchmark Neo4j at {bench_instance().uri}")
    timings = asyncio.run(main())
    table = Table("phase", "median s", "min s", "max s")
    for key in timings[0]:
        values = [t[key] for t in timings]
        table.add_row(
            key, f"{statistics.median(values):.1f}", f"{min(values):.1f}", f"{max(values):.1f}"
        )
    console.print(table)


# Records of M to register again as new ones, in order of id.
SAMPLE_IDS: dict[Kind, LiteralString] = {
    Kind.ORGANISATION: "MATCH (o:Organisation) RETURN o.id AS id ORDER BY o.id",
    Kind.SERVICE: "MATCH (s:Service) RETURN s.id AS id ORDER BY s.id",
}


@app.command("check")
def check_command(
    checks: Annotated[int, typer.Option(min=10, max=5000, help="Checks per kind.")] = 400,
    seed: Annotated[int, typer.Option()] = DEFAULT_SEED,
) -> None:
    """Time the duplicate check a registration runs (`organisation_candidates`,
    `service_candidates`) on the benchmark Neo4j with M loaded: existing records of M sent
    again under a new id, half of them with a typo in the name, one check at a time; p50,
    p95 and CPU per check of Neo4j and of this process."""
    rng = random.Random(seed)
    neo4j_pid = neo4j_server.running_pid(bench_instance())

    async def records(graph: Any, kind: Kind) -> list[Any]:
        async def ids(tx: Any) -> list[str]:
            return [r["id"] async for r in await tx.run(SAMPLE_IDS[kind])]

        chosen = rng.sample(await graph.read(ids), checks)
        found = await graph.read(features_by_id, kind=kind, ids=chosen)
        again = []
        for id in chosen:
            features = found[id]
            name = _typo(features.name, rng) if rng.random() < 0.5 else features.name
            if kind is Kind.ORGANISATION:
                again.append(replace(features, id="bench-check", name=name))
            else:
                again.append(replace(features, id="bench-check", name=name, folded=fold(name)))
        return again

    async def main() -> dict[Kind, dict[str, float]]:
        out = {}
        async with bench_graph() as graph:
            for kind in Kind:
                sample = await records(graph, kind)
                check = organisation_candidates if kind is Kind.ORGANISATION else service_candidates
                for record in sample[:20]:  # warm-up
                    await graph.read(check, record=record)
                latencies, found = [], 0
                cpu_neo4j, cpu_client = cpu_ms(neo4j_pid), time.process_time()
                for record in sample:
                    started = time.perf_counter()
                    candidates = await graph.read(check, record=record)
                    latencies.append((time.perf_counter() - started) * 1000)
                    found += bool(candidates)
                latencies.sort()
                out[kind] = {
                    "p50": statistics.median(latencies),
                    "p95": latencies[int(0.95 * (len(latencies) - 1))],
                    "max": latencies[-1],
                    "neo4j": (cpu_ms(neo4j_pid) - cpu_neo4j) / len(sample),
                    "client": (time.process_time() - cpu_client) * 1000 / len(sample),
                    "found": found / len(sample),
                }
        return out

    console.print(f"benchmark Neo4j at {bench_instance().uri}")
    results = asyncio.run(main())
    table = Table(
        "kind", "checks", "p50 ms", "p95 ms", "max ms", "CPU ms: Neo4j", "this process",
        "found the original",
    )  # fmt: skip
    for kind, row in results.items():
        table.add_row(
            kind.value, str(checks), f"{row['p50']:.1f}", f"{row['p95']:.1f}",
            f"{row['max']:.1f}", f"{row['neo4j']:.1f}", f"{row['client']:.1f}",
            f"{row['found']:.0%}",
        )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    app()
