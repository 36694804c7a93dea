"""The people who work for an organisation on its pages: what a valid user is. Pure rules, no
storage. Passwords are hashed with Argon2 and repeated failures lock the user (kit.passwords).

Two roles: the organisation's administrators (the user who registered it is the first) add users
and disable or enable them; volunteers do everything else (offerings, inbox, keys). Every user
changes their own password. An administrator cannot disable themselves, so an organisation always
keeps one who can sign in."""

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
DISABLED = N_("This user is disabled: ask your organisation's administrator")
WRONG_CURRENT = N_("This is not your current password")
NOT_REPEATED = N_("The two new passwords are not the same")
ROLE_RULE = N_("Choose administrator or volunteer")

ADMINISTRATOR, VOLUNTEER = "administrator", "volunteer"
ROLES = (ADMINISTRATOR, VOLUNTEER)


def check_new_user(username: str, password: str, role: str = ADMINISTRATOR) -> dict[str, str]:
    """The problems with a new user, field -> message id; empty when it is acceptable."""
    problems = {}
    if not USERNAME.match(username):
        problems["username"] = USERNAME_RULE
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        problems["password"] = PASSWORD_RULE
    if role not in ROLES:
        problems["role"] = ROLE_RULE
    return problems


def check_new_password(new_password: str, repeated: str) -> dict[str, str]:
    """The problems with a changed password, field -> message id (the current one is checked against its hash)."""
    if not MIN_PASSWORD <= len(new_password) <= MAX_PASSWORD:
        return {"new_password": PASSWORD_RULE}
    if repeated != new_password:
        return {"repeat_password": NOT_REPEATED}
    return {}
