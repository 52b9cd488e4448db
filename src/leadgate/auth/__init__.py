"""Who is calling: API-key credentials, the tenant they act in, and the scopes a route needs."""
