"""Personal data: retention, erasure and export of a person, and the suppression list."""
