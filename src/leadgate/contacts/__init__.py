"""Contacts: people a tenant does business with, created directly or by converting a lead."""
