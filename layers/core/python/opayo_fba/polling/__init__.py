"""Scheduled pollers: Amazon orders since a watermark, and undecided Opayo Pi payments."""
