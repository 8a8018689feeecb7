"""Operations: what an operator does to a running integration (DLQ inspection and redrive,
the status of a stack)."""
