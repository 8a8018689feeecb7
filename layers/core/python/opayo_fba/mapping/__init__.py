"""Declarative mapping templates for merchants' custom fields."""
