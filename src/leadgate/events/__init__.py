"""The event outbox: what happened in a tenant, stored in the transaction that made it happen."""
