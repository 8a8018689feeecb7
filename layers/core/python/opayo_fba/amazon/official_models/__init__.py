"""Copies of Amazon's official SP-API models (Apache-2.0, see LICENSE)."""
