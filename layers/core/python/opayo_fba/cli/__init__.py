"""The operator's command line, `opayo-fba` (not shipped in the Lambda layer)."""
