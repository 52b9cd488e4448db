"""Per-key rate limits (GCRA), monthly quotas and the failed-authentication throttle."""
