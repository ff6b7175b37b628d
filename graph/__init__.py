"""Everything that talks to Neo4j: driver, migrations, one module per domain concept."""
