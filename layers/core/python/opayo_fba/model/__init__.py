"""Canonical pydantic models shared by every connector, handler and report."""
