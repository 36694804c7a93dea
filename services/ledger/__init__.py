"""The ledger service: the unified beneficiary ledger, duplicate-service alerts and the pre-grant check."""
