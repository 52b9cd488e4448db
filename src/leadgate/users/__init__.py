"""Console people: users, their passwords and sessions, memberships of tenants and invitations."""
