"""opayo-fba: Opayo payments and Amazon FBA Multi-Channel Fulfillment, kept in step."""

__version__ = "0.1.0"
