"""leadgate: self-hosted, multi-tenant lead intake for CRMs with a complete API-key lifecycle."""

__version__ = "0.1.0"
