"""Settlement parsing, matching and journal entries (docs/reconciliation.md).

- `amazon`   SettlementParser: Amazon V2 settlement flat file, streamed row by row
- `opayo`    BatchParser: Opayo getBatchDetail XML (defusedxml, iterparse), page by page
- `orders`   OrderBook: canonical orders (JSON lines) indexed by every provider id
- `engine`   Reconciler: per-order matching, journal entries, exceptions
- `matching` the per-order state and the exception reasons
- `journal`  balanced double-entry JournalEntry builders
- `config`   chart of accounts and Opayo fee schedule; `fees` the fee calculation
- `outputs`, `report`  journal.csv/json, exceptions.csv, report.html, JournalEntriesReady
- `files`, `streams`   local files all-or-nothing; byte chunks from S3 to lines
"""
