"""A local stand-in for Amazon's Selling Partner API (Orders, FBA MCF, Reports, Tokens, LWA)."""

from sandbox.amazon.app import AmazonSandbox, create_app
from sandbox.amazon.options import AmazonSandboxOptions, Credentials, NotificationTarget, SkuStock

__all__ = [
    "AmazonSandbox",
    "AmazonSandboxOptions",
    "Credentials",
    "NotificationTarget",
    "SkuStock",
    "create_app",
]
