"""The charity service: charities and companies, their offerings, and their side of each match."""
