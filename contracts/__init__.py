"""Contracts: the events, topics and catalogues the services share. Nothing else is shared."""
