"""`make demo`: sample orders through the whole integration, on this machine."""
