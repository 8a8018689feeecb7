"""Connector for Amazon's Selling Partner API (FBA Multi-Channel Fulfillment, Orders, Reports)."""
