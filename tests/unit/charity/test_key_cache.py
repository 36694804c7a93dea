"""The verified-key cache: remembered for its seconds, forgotten at once on a revocation in this
process, never remembered when its seconds are 0, and a revocation during a look-up wins."""

from __future__ import annotations

from services.charity.key_cache import KeyCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def counting(answer: str | None) -> tuple[list[int], object]:
    calls: list[int] = []

    def look_up() -> str | None:
        calls.append(1)
        return answer

    return calls, look_up


def test_a_key_is_remembered_for_its_seconds_then_looked_up_again() -> None:
    clock = Clock()
    cache: KeyCache[str] = KeyCache(2.0, clock=clock)
    calls, look_up = counting("org-1")
    assert [cache.get("d", look_up) for _ in range(3)] == ["org-1"] * 3  # type: ignore[arg-type]
    assert len(calls) == 1
    clock.now += 2.0
    assert cache.get("d", look_up) == "org-1" and len(calls) == 2  # type: ignore[arg-type]


def test_forgetting_takes_effect_at_the_next_request() -> None:
    cache: KeyCache[str] = KeyCache(60.0, clock=Clock())
    cache.get("d", lambda: "org-1")
    cache.forget_all()
    assert cache.get("d", lambda: None) is None


def test_zero_seconds_looks_up_every_time_and_unknown_keys_are_not_remembered() -> None:
    calls, look_up = counting("org-1")
    never: KeyCache[str] = KeyCache(0.0)
    never.get("d", look_up)  # type: ignore[arg-type]
    never.get("d", look_up)  # type: ignore[arg-type]
    assert len(calls) == 2
    cache: KeyCache[str] = KeyCache(60.0, clock=Clock())
    assert cache.get("new", lambda: None) is None
    assert cache.get("new", lambda: "org-2") == "org-2"  # a key created since works at its first use


def test_a_revocation_during_the_look_up_wins_over_what_was_read_before_it() -> None:
    cache: KeyCache[str] = KeyCache(60.0, clock=Clock())

    def read_then_revoked() -> str:
        cache.forget_all()  # the revoking request commits while this one reads
        return "org-1"

    assert cache.get("d", read_then_revoked) == "org-1"
    assert cache.get("d", lambda: None) is None  # not remembered from before the revocation


def test_the_cache_stays_bounded() -> None:
    cache: KeyCache[str] = KeyCache(60.0, most=3, clock=Clock())
    for n in range(10):
        cache.get(f"d{n}", lambda n=n: f"org-{n}")
    assert len(cache._found) <= 3
