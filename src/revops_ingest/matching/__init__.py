"""revops_ingest.matching."""
