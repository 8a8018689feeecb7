"""Local stand-ins for Amazon SP-API and Opayo, and the local runtime."""
