"""REST hooks for Zapier, Make and n8n: subscribe, unsubscribe, samples, find or create."""
