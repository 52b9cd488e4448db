"""Teams: sub-accounts inside a tenant (the seeds' "your team", Snappy's `accountsAccess`)."""
