"""The scheduled work: what each job does, one module per source.

- Pollers: Amazon orders since a watermark (`amazon_orders`), FBA inventory
  (`amazon_inventory`), undecided Opayo Pi payments (`pi_statuses`); the event names they
  publish (`events`).
- The report pipeline: request reports, wait for them, archive raw files to S3 (`archive`),
  then parse inventory levels (`inventory`, `amazon_reports`) or hand settlements and Opayo
  batches (`opayo_batches`) to reconciliation, with the order book (`order_book`) and the
  journals (`journals`).

Each job's entry point, on the composition root, is in `opayo_fba.scheduled`.
"""
