"""Reference and demo data: gazetteer, needs taxonomy, target groups, demo directory."""
