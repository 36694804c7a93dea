"""Resident ID numbers in pre-grant checks: pseudonymised with the shared rule in contracts."""

from __future__ import annotations

import re

from contracts.pseudonyms import normalise_resident_id, person_key

_WELL_FORMED = re.compile(r"[0-9]{17}[0-9X]")

__all__ = ["is_well_formed", "normalise_resident_id", "person_key"]


def is_well_formed(raw: str) -> bool:
    return _WELL_FORMED.fullmatch(normalise_resident_id(raw)) is not None
