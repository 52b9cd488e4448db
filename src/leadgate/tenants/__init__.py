"""Tenants: the companies whose CRMs leadgate feeds, addressed by slug."""
