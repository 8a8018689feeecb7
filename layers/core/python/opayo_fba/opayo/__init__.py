"""Connector for Opayo (Pi REST, Server notifications, Reporting & Admin API)."""
