"""`attributes`: taxonomy terms attached to records. Terms of Homeward's taxonomies become
needs, target groups and profile fields; other terms go through the mapping file; a term
that maps to nothing is kept as an HSDS attribute (exported again) and reported once."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, Fields, ServiceDraft, TermInfo
from importers.hsds.profile import GROUPS_TAXONOMY, NEEDS_TAXONOMY, PROFILE_TAXONOMY
from importers.rows import Row

TABLE = "attributes"
KINDS = {"organization", "service", "location", "program"}
# Fields of an unknown term kept with it besides its id, code, name and taxonomy; its
# taxonomy is kept by name (`taxonomy`), so `taxonomy_id` is not lost.
TERM_KEPT = ("description", "language", "term_uri")
TERM_HELD = {"id", "code", "name", "taxonomy", "taxonomy_id", *TERM_KEPT}


def _drop_term_details(assembly: Assembly, term: TermInfo) -> None:
    """What a kept term cannot carry (its `parent_id`, its taxonomy's description, uri and
    version) is named in the report."""
    if term.row is None:
        return
    assembly.drop("taxonomy_terms", term.row, TERM_HELD)
    taxonomy = assembly.taxonomy_rows.get(term.row.get("taxonomy_id").strip().lower())
    if taxonomy is not None:
        assembly.drop("taxonomies", taxonomy, {"id", "name"})


def load(assembly: Assembly, rows: list[Row]) -> None:
    for row in rows:
        assembly.report.read[TABLE] += 1
        fields = Fields(row, assembly.report)
        fields.uuid("id", required=True)
        link_id = fields.uuid("link_id", required=True)
        term_id = fields.uuid("taxonomy_term_id", required=True)
        term = assembly.terms.get(term_id) if term_id else None
        if term_id and term is None:
            fields.problem("taxonomy_term_id", f"no taxonomy term {term_id} in the import")
        if not fields.ok or link_id is None or term is None:
            assembly.report.rejected[TABLE] += 1
            continue
        kind = (fields.text("link_entity") or "").lower()
        draft = assembly.entity(kind, link_id) if kind in KINDS else None
        if draft is None:
            found = assembly.any_entity(link_id)
            kind, draft = found if found else (kind, None)
        if draft is None:
            fields.warn("link_id", f"names no imported record ({link_id}); skipped")
            continue
        code = term.code or ""
        if term.taxonomy == PROFILE_TAXONOMY:
            value = fields.text("value")
            if value is not None:
                draft.profile.setdefault(code, []).append(value)
            continue
        target = None
        if term.taxonomy == NEEDS_TAXONOMY:
            target = ("need", code)
        elif term.taxonomy == GROUPS_TAXONOMY:
            target = ("target_group", code)
        else:
            target = assembly.mapping.lookup(term)
        if target is not None and isinstance(draft, ServiceDraft):
            kind_of_code, mapped = target
            known = assembly.known.needs if kind_of_code == "need" else assembly.known.target_groups
            if mapped not in known:
                fields.problem(
                    "taxonomy_term_id",
                    f"term {term.name!r} maps to {kind_of_code} {mapped!r}, which does not exist",
                )
                assembly.report.rejected[TABLE] += 1
                continue
            codes = draft.needs if kind_of_code == "need" else draft.target_groups
            if mapped not in codes:
                codes.append(mapped)
            continue
        draft.extras.keep_row(TABLE, row)
        kept_terms = draft.extras.tables.setdefault("taxonomy_terms", [])
        if not any(t.get("id") == term.id for t in kept_terms):
            data = term.row.data if term.row else {}
            kept_terms.append(
                {
                    k: v
                    for k, v in {
                        "id": term.id,
                        "code": term.code or "",
                        "name": term.name,
                        "taxonomy": term.taxonomy,
                    }.items()
                    | {k: data.get(k, "").strip() for k in TERM_KEPT}.items()
                    if v
                }
            )
            _drop_term_details(assembly, term)
        if target is None:
            assembly.unknown_terms[term.id] += 1
