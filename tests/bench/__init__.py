"""The benchmarks' data set, checked against the application on the test Neo4j."""
