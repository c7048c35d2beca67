"""Pure domain: model, audits, KPIs, drift, status, gates, hashing. Standard library only."""
