"""The intake service: the front door for department events."""
