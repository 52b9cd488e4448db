"""Tags: named, coloured labels a tenant puts on leads."""
