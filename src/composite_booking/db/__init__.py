"""Persistence: models, engine/session factory and company-scoped repositories."""
