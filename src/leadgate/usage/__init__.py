"""Usage counters per key, hour, route and status class; the usage API; near-limit alerts."""
