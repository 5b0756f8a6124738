"""Repositories: every query lives here; tenant-owned ones are scoped by the company given at construction.

Repositories `flush()` when they need ids and never commit: the request or job boundary owns the unit of work.
"""
