"""Activities (notes, calls, meetings, e-mails, tasks) on leads, contacts and deals, and each
record's timeline."""
