"""The staff web front: the joint meeting's pages over the ledger's and intake's HTTP APIs."""
