"""Deals, the pipelines and stages they move through, and each deal's stage history."""
