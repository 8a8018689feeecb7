"""A local stand-in for Opayo: Pi REST, Server integration, and the Reporting & Admin API.

`create_app(OpayoSandboxOptions())` builds the Starlette app; `python -m sandbox.opayo` serves it.
"""

from sandbox.opayo.app import create_app
from sandbox.opayo.options import OpayoSandboxOptions

__all__ = ["OpayoSandboxOptions", "create_app"]
