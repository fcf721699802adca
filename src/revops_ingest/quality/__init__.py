"""revops_ingest.quality."""
