"""Staff accounts, as plain rules: who may do what, what a valid account looks like. No HTTP, no
SQL. (Passwords and the lock after repeated failed sign-ins: kit.passwords.)"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from contracts.catalogue import DEPARTMENTS, programmes_of
from kit.pages import N_

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
MIN_PASSWORD = 10


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    REVIEWER = "reviewer"
    DEPARTMENT_VIEWER = "department_viewer"


class Permission(StrEnum):
    VIEW = "view"  # dashboard, alerts, households, cliff (a department viewer: its programmes only)
    DECIDE = "decide"  # alert decisions, identity reviews, pre-grant checks
    AUDIT = "audit"  # the audit trail
    MANAGE_ACCOUNTS = "manage_accounts"
    SOCIAL = "social"  # organisations, offerings and match outcomes, unmet needs (charity programmes: no department's)


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMINISTRATOR: frozenset(Permission),
    Role.REVIEWER: frozenset({Permission.VIEW, Permission.DECIDE, Permission.AUDIT, Permission.SOCIAL}),
    Role.DEPARTMENT_VIEWER: frozenset({Permission.VIEW}),
}


@dataclass(frozen=True)
class StaffMember:
    """The person signed in: what the pages check before reading or doing anything."""

    username: str
    role: Role
    department: str | None = None

    def may(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]

    @property
    def scoped(self) -> bool:
        return self.role == Role.DEPARTMENT_VIEWER

    @property
    def programmes(self) -> frozenset[str] | None:
        """The programmes this person may see; None = all."""
        return programmes_of(self.department) if self.scoped and self.department else None

    def sees_programme(self, programme: str) -> bool:
        return self.programmes is None or programme in self.programmes

    def sees_any(self, programmes: list[str]) -> bool:
        return self.programmes is None or bool(self.programmes.intersection(programmes))


@dataclass(frozen=True)
class FieldError:
    """One bad field of a form: the field's name and a message id the page translates."""

    field: str
    message: str


def check_new_account(username: str, password: str, role: str, department: str | None) -> list[FieldError]:
    errors: list[FieldError] = []
    if not USERNAME.match(username):
        errors.append(FieldError("username", N_("3 to 32 characters: lower-case letters, digits, dot, dash or underscore")))
    errors.extend(check_password(password))
    if role not in set(Role):
        errors.append(FieldError("role", N_("Choose a role")))
    elif role == Role.DEPARTMENT_VIEWER and department not in DEPARTMENTS:
        errors.append(FieldError("department", N_("A department viewer needs a department")))
    elif role != Role.DEPARTMENT_VIEWER and department:
        errors.append(FieldError("department", N_("Only a department viewer has a department")))
    return errors


def check_password(password: str) -> list[FieldError]:
    if len(password) < MIN_PASSWORD or len(password) > 256:
        return [FieldError("password", N_("At least 10 characters"))]
    return []
