"""Webhooks: endpoints, signed delivery of outbox events with retries, replay, a tester."""
