"""The web console: server-rendered pages (Jinja2 + HTMX) under `/console`."""
