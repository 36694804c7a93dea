class StartupError(Exception):
    """A setting or a dependency is wrong: the message is one line saying what and how to fix it."""
