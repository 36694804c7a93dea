"""Who is calling: API keys for department systems, staff and charities.

Keys live in a TOML file (HUB_API_KEYS_FILE) as SHA-256 digests, never in clear:

    [[key]]
    id = "ca-dibao-system"      # who, as it appears in audit trails
    role = "department"         # department | staff | charity
    department = "CA"           # departments only: scopes the key to CA and CA's programmes
    sha256 = "..."              # hex digest of the key (`hub keys hash KEY` prints it)

A department key is scoped to its own department code and the programmes that department runs.
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.security import APIKeyHeader

from contracts.catalogue import DEPARTMENTS, programmes_of
from kit.errors import StartupError

Role = Literal["department", "staff", "charity"]
API_KEY_HEADER = "X-API-Key"


@dataclass(frozen=True)
class Principal:
    id: str
    role: Role
    department: str | None = None

    @property
    def programmes(self) -> frozenset[str]:
        return programmes_of(self.department) if self.department else frozenset()

    def may_act_for(self, department: str) -> bool:
        return self.role == "department" and self.department == department

    def may_use_programme(self, programme: str) -> bool:
        return programme in self.programmes


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKeys:
    by_digest: dict[str, Principal]

    @classmethod
    def load(cls, path: Path) -> ApiKeys:
        try:
            entries = tomllib.loads(path.read_text(encoding="utf-8")).get("key", [])
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise StartupError(f"API keys file {path}: {error}; set HUB_API_KEYS_FILE to a valid TOML file") from None
        return cls({entry["sha256"]: _principal(path, entry) for entry in entries})

    def identify(self, key: str | None) -> Principal | None:
        if not key:
            return None
        candidate = digest(key)
        for known, principal in self.by_digest.items():
            if hmac.compare_digest(known, candidate):
                return principal
        return None


def _principal(path: Path, entry: dict) -> Principal:
    try:
        principal = Principal(id=str(entry["id"]), role=entry["role"], department=entry.get("department"))
    except KeyError as missing:
        raise StartupError(f"API keys file {path}: an entry lacks {missing}") from None
    if principal.role not in ("department", "staff", "charity"):
        raise StartupError(f"API keys file {path}: key {principal.id!r} has unknown role {principal.role!r}")
    if principal.role == "department" and principal.department not in DEPARTMENTS:
        raise StartupError(f"API keys file {path}: key {principal.id!r} names unknown department {principal.department!r}")
    return principal


# One security scheme per set of roles, named after them: the OpenAPI document then says which
# kind of key each route takes, and kit.http's guard reads it there to check the key before the
# body is read.
SCHEME_PREFIX = "api-key:"


@lru_cache(maxsize=None)
def _header(roles: tuple[Role, ...]) -> APIKeyHeader:
    return APIKeyHeader(
        name=API_KEY_HEADER, auto_error=False, scheme_name=SCHEME_PREFIX + ",".join(roles),
        description=f"An API key of role {' or '.join(roles)}, in the {API_KEY_HEADER} header",
    )


def roles_in(security: list[dict[str, Any]] | None) -> tuple[str, ...] | None:
    """The roles an OpenAPI operation's security requirement names, or None if it needs no key."""
    for requirement in security or []:
        for name in requirement:
            if name.startswith(SCHEME_PREFIX):
                return tuple(name.removeprefix(SCHEME_PREFIX).split(","))
    return None


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency: the caller's principal, or 401 (no/unknown key) / 403 (wrong role).
    The app must set `app.state.api_keys` to an ApiKeys."""

    header = _header(roles)

    # Async: a lookup in a dict, which FastAPI would otherwise hand to a worker thread and back.
    async def dependency(request: Request, key: str | None = Depends(header)) -> Principal:
        principal = request.app.state.api_keys.identify(key)
        if principal is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail=f"missing or unknown API key: send it in the {API_KEY_HEADER} header",
            )
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"a {principal.role} key may not use this endpoint (needs: {', '.join(roles)})",
            )
        return principal

    return dependency


# --- the person acting through a staff key ------------------------------------------------------

ACTING_USER_HEADER = "X-Acting-User"
ACTING_USER_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,31}$"
ActingUser = Annotated[str | None, Header(
    alias=ACTING_USER_HEADER, pattern=ACTING_USER_PATTERN,
    description="The person acting through a staff key (the staff web front names them); recorded with the key's id",
)]


def decided_by(key_id: str, acting_user: str | None) -> str:
    """Who a decision is recorded as: the key's id, and the person acting through it if named
    ('rita (web-front)'). At most 64 characters, as the services' `decided_by` columns."""
    return f"{acting_user} ({key_id})"[:64] if acting_user else key_id
