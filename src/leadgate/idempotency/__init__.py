"""Idempotency-Key: the first response to a write is kept per tenant and replayed to retries.

A router adopts it with one line, `APIRouter(route_class=IdempotentRoute)`: every POST, PUT,
PATCH and DELETE route of that router then honours the header.
"""
