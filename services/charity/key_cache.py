"""Verified organisation keys, remembered for a few seconds so that a busy client does not cost a
database read per request (a fifth of the service's CPU per request under load, measured).

Bound on revocation: in this process, revoking a key, or a registration decision, forgets every
remembered key before the use case returns, so it takes effect at once here. Another process of
the same service keeps what it remembered for at most `seconds`: with more than one instance
behind one address, set HUB_CHARITY_KEY_CACHE_SECONDS=0 for "at once" everywhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class KeyCache(Generic[T]):
    def __init__(self, seconds: float, most: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.most = most
        self._found: dict[str, tuple[float, T]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, digest: str, look_up: Callable[[], T | None]) -> T | None:
        """What `digest` stands for: remembered, or `look_up()` (a key that stands for no one is
        not remembered: a new key works at its first use)."""
        if self.seconds <= 0:
            return look_up()
        remembered = self.remembered(digest)
        if remembered is not None:
            return remembered
        now, generation = self.clock(), self._generation
        found = look_up()
        if found is not None:
            with self._lock:
                # A revocation while we read must win: what we read may be from before it.
                if generation == self._generation:
                    if len(self._found) >= self.most:
                        self._found.clear()
                    self._found[digest] = (now + self.seconds, found)
        return found

    def remembered(self, digest: str) -> T | None:
        """What `digest` stands for if it is remembered and fresh; None otherwise."""
        found = self._found.get(digest)
        return found[1] if found is not None and found[0] > self.clock() else None

    def forget_all(self) -> None:
        with self._lock:
            self._generation += 1
            self._found.clear()
