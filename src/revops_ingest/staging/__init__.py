"""revops_ingest.staging."""
