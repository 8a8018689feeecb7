"""Lambda handlers: one small module per function. Logic lives in the layer (opayo_fba)."""
