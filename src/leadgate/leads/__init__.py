"""Leads: intake, validation, normalisation and the duplicate rule."""
