"""API keys: issuing, verifying, listing and revoking the credentials that guard the API."""
