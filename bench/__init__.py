"""Benchmarks of Homeward: the reference data set "M" and the Neo4j it is loaded into.

Kept apart from the application and its tests: the budgets in DESIGN.md ("Performance
budgets") are measured here, on a separate Neo4j (`bench.neo4j`), never by timed tests.
"""
