"""Settlement parsing, matching and journal entries."""
