"""GraphQL schema: one module per domain concept, merged in `schema.py`. No Cypher here."""
