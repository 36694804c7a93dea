"""The people who work for an organisation on its pages: what a valid user is. Pure rules, no
storage. Passwords are hashed with Argon2 and repeated failures lock the user (kit.passwords)."""

from __future__ import annotations

import re

from kit.pages import N_

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
MIN_PASSWORD, MAX_PASSWORD = 10, 256

USERNAME_RULE = N_("3 to 32 characters: lower-case letters, digits, dot, dash or underscore")
PASSWORD_RULE = N_("At least 10 characters")
USERNAME_TAKEN = N_("This username is taken")
WRONG = N_("Wrong username or password")
LOCKED = N_("Too many failed attempts: this user is locked for a while")


def check_new_user(username: str, password: str) -> dict[str, str]:
    """The problems with a new user, field -> message id; empty when it is acceptable."""
    problems = {}
    if not USERNAME.match(username):
        problems["username"] = USERNAME_RULE
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        problems["password"] = PASSWORD_RULE
    return problems
