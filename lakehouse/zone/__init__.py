"""Executing one zone: read -> transform -> validate -> promote."""
