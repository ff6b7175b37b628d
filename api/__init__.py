"""The HTTP edge: FastAPI application, GraphQL schema and resolvers, REST endpoints."""
