"""The hub's four services. Each is its own process and never imports another."""
