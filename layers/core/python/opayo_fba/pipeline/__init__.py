"""The report pipeline: request reports, wait for them, archive raw files to S3, then parse
(inventory levels) or hand over to reconciliation (settlements, Opayo batches)."""
