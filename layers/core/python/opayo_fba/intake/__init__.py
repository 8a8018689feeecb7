"""How orders and payment events enter: validation at the edge, joining, starting the saga."""
