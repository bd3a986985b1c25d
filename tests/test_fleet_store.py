"""The fleet's Lua decisions against a real redis-server: transitions, generations, quorum, probe
reservations with expiry, the fleet budget, and exact counts under concurrent workers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from resilience import CircuitBreakerConfig, ConfigurationError, FleetSettings, RedisSharedState, ScriptCall
from resilience._fleet_breaker import breaker_keys, report_call, reserve_call, script_config
from tests.redis_server import RedisServer, redis_server

__all__ = ["redis_server"]

CFG = CircuitBreakerConfig(failure_threshold=3, recovery_timeout=1.0, success_threshold=2, half_open_max_calls=2)


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisSharedState]:
    s = RedisSharedState(redis_server.url, FleetSettings(timeout=2.0))
    yield s
    s.close()


class Scope:
    """One breaker scope of its own (a fresh namespace), with the time passed in (ms)."""

    def __init__(self, store: RedisSharedState, config: CircuitBreakerConfig = CFG, **settings: Any) -> None:
        self.store = store
        self.keys = breaker_keys(f"t{uuid.uuid4().hex}", "http://api.example")
        self.cfg = script_config(config, FleetSettings(**settings))

    def report(
        self, gen: int, f: int = 0, s: int = 0, done: tuple[tuple[str, str], ...] = (), *, worker: str = "w1", at: int
    ) -> list[Any]:
        reply: list[Any] = self.store.run([report_call(self.keys, self.cfg, worker, gen, f, s, done, at)])[0]
        return reply

    def reserve(self, want: int = 1, *, worker: str = "w1", at: int) -> list[Any]:
        reply: list[Any] = self.store.run([reserve_call(self.keys, self.cfg, worker, want, at)])[0]
        return reply


def state(reply: list[Any]) -> tuple[str, int]:
    return reply[0].decode(), int(reply[1])


def test_failures_open_the_fleet_and_stale_counts_count_for_nothing(store: RedisSharedState) -> None:
    sc = Scope(store)
    assert state(sc.report(0, f=2, at=1000)) == ("closed", 0)
    assert state(sc.report(0, f=1, at=1001)) == ("open", 1)
    reply = sc.report(0, f=50, s=0, at=1100)  # generation 0 is over: ignored
    assert state(reply) == ("open", 1)
    assert int(reply[2]) == 901  # ms until a probe: recovery_timeout from the opening, on the script's clock


def test_half_open_by_the_scripts_clock_and_reservations_are_capped(store: RedisSharedState) -> None:
    sc = Scope(store)
    sc.report(0, f=3, at=0)
    assert sc.reserve(at=999)[6] == []  # still open: nothing granted
    first = sc.reserve(3, worker="a", at=1000)
    assert state(first) == ("half_open", 2)
    assert len(first[6]) == 2  # half_open_max_calls across the fleet
    assert sc.reserve(1, worker="b", at=1001)[6] == []


def test_an_expired_reservation_frees_its_slot_and_its_late_result_is_ignored(store: RedisSharedState) -> None:
    sc = Scope(store, probe_ttl=5.0)
    sc.report(0, f=3, at=0)
    tokens = sc.reserve(2, worker="dead", at=1000)[6]
    assert sc.reserve(1, at=5999)[6] == []
    fresh = sc.reserve(1, at=6000)[6]  # the dead worker's reservations expired at 6000
    assert len(fresh) == 1
    late = sc.report(2, done=((tokens[0].decode(), "failure"),), at=6001)
    assert state(late) == ("half_open", 2)  # the dead worker's failure no longer counts


def test_probe_failure_reopens_with_a_new_generation(store: RedisSharedState) -> None:
    sc = Scope(store)
    sc.report(0, f=3, at=0)
    token = sc.reserve(1, at=1000)[6][0].decode()
    reply = sc.report(2, done=((token, "failure"),), at=1010)
    assert state(reply) == ("open", 3)
    assert int(reply[2]) == 1000


def test_probe_successes_close_it_and_results_of_an_older_generation_are_ignored(store: RedisSharedState) -> None:
    sc = Scope(store)
    sc.report(0, f=3, at=0)
    old = sc.reserve(1, at=1000)[6][0].decode()
    sc.report(2, done=((old, "failure"),), at=1001)  # reopens: generation 3
    a, b = (t.decode() for t in sc.reserve(2, at=2001)[6])  # generation 4 (half-open)
    assert state(sc.report(4, done=((old, "success"), (a, "success")), at=2002)) == ("half_open", 4)
    assert state(sc.report(4, done=((b, "success"),), at=2003)) == ("closed", 5)
    assert state(sc.report(5, f=2, at=2004)) == ("closed", 5)  # counts start afresh


def test_a_released_reservation_frees_its_slot_without_counting(store: RedisSharedState) -> None:
    sc = Scope(store)
    sc.report(0, f=3, at=0)
    a, _b = (t.decode() for t in sc.reserve(2, at=1000)[6])
    reply = sc.report(2, done=((a, "release"),), at=1001)
    assert state(reply) == ("half_open", 2)
    assert int(reply[3]) == 1
    assert len(sc.reserve(2, at=1002)[6]) == 1


def test_quorum_needs_distinct_failing_workers(store: RedisSharedState) -> None:
    sc = Scope(store, quorum=2)
    assert state(sc.report(0, f=10, worker="poisoned", at=0)) == ("closed", 0)
    assert state(sc.report(0, f=1, worker="other", at=1)) == ("open", 1)


def test_the_window_starts_afresh(store: RedisSharedState) -> None:
    sc = Scope(store, window=1.0)
    sc.report(0, f=2, at=0)
    assert state(sc.report(0, f=2, at=1000)) == ("closed", 0)  # the first two fell out of the window
    assert state(sc.report(0, f=1, at=1500)) == ("open", 1)


def test_mostly_successful_traffic_does_not_open_count_mode(store: RedisSharedState) -> None:
    sc = Scope(store)
    assert state(sc.report(0, f=3, s=100, at=0)) == ("closed", 0)


def test_rate_mode_opens_on_the_rate(store: RedisSharedState) -> None:
    config = CircuitBreakerConfig(mode="rate", window_size=20, minimum_calls=10, failure_rate_threshold=0.5)
    sc = Scope(store, config)
    assert state(sc.report(0, f=4, s=4, at=0)) == ("closed", 0)  # below minimum_calls
    assert state(sc.report(0, f=1, s=1, at=1)) == ("open", 1)


def test_redis_time_is_the_clock_when_none_is_passed(store: RedisSharedState) -> None:
    sc = Scope(store)
    keys, cfg = sc.keys, sc.cfg
    reply = store.run([report_call(keys, cfg, "w", 0, 3, 0)])[0]
    assert reply[0] == b"open"
    assert 0 < int(reply[2]) <= 1000


def test_concurrent_workers_counts_are_exact(store: RedisSharedState, redis_server: RedisServer) -> None:
    config = CircuitBreakerConfig(failure_threshold=10**9)
    sc = Scope(store, config)
    workers, rounds = 8, 100

    def hammer(n: int) -> None:
        own = RedisSharedState(redis_server.url, FleetSettings(timeout=2.0))
        try:
            for _ in range(rounds):
                own.run([report_call(sc.keys, sc.cfg, f"w{n}", 0, 1, 2, (), 10)])
        finally:
            own.close()

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reply = sc.report(0, at=10)
    assert (int(reply[4]), int(reply[5])) == (workers * rounds, 3 * workers * rounds)


def test_concurrent_reservations_never_exceed_half_open_max_calls(
    store: RedisSharedState, redis_server: RedisServer
) -> None:
    config = CircuitBreakerConfig(failure_threshold=1, half_open_max_calls=3, recovery_timeout=1.0)
    sc = Scope(store, config)
    sc.report(0, f=1, at=0)
    granted: list[bytes] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def grab(n: int) -> None:
        own = RedisSharedState(redis_server.url, FleetSettings(timeout=2.0))
        try:
            barrier.wait()
            for _ in range(20):
                tokens = own.run([reserve_call(sc.keys, sc.cfg, f"w{n}", 2, 1000)])[0][6]
                with lock:
                    granted.extend(tokens)
        finally:
            own.close()

    threads = [threading.Thread(target=grab, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 3
    assert len(set(granted)) == 3


BUDGET = '{"percent":0.2,"min_per_second":1,"window_ms":10000}'


def budget(
    store: RedisSharedState, key: str, at: int, deposit: int = 0, back: int = 0, want: int = 0
) -> tuple[int, float]:
    granted, left = store.run([ScriptCall("budget", (key,), (BUDGET, at, deposit, back, want))])[0]
    return int(granted), float(left)


def test_budget_grants_what_the_token_bucket_allows(store: RedisSharedState) -> None:
    key = f"t{uuid.uuid4().hex}:budget"
    assert budget(store, key, 0, deposit=100) == (0, 30.0)  # 20% of 100 + 1/s over 10 s
    assert budget(store, key, 1, want=25) == (25, 5.0)
    assert budget(store, key, 2, want=25) == (5, 0.0)
    assert budget(store, key, 3, back=4, want=0) == (0, 4.0)  # unused tokens given back
    assert budget(store, key, 11_000, want=100) == (10, 0.0)  # the old slots fell out of the window


def test_budget_never_overdraws_under_concurrent_workers(store: RedisSharedState, redis_server: RedisServer) -> None:
    key = f"t{uuid.uuid4().hex}:budget"
    budget(store, key, 0, deposit=50)  # 10 + 10 = 20 tokens in all
    total: list[int] = []
    lock = threading.Lock()

    def take(_: int) -> None:
        own = RedisSharedState(redis_server.url, FleetSettings(timeout=2.0))
        try:
            for _ in range(10):
                granted, _left = budget(own, key, 5, want=1)
                with lock:
                    total.append(granted)
        finally:
            own.close()

    threads = [threading.Thread(target=take, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(total) == 20


def test_scripts_are_loaded_again_after_a_script_flush(store: RedisSharedState, redis_server: RedisServer) -> None:
    sc = Scope(store)
    sc.report(0, f=1, at=0)
    import redis

    redis.Redis.from_url(redis_server.url).script_flush()
    assert state(sc.report(0, f=2, at=1)) == ("open", 1)


def test_a_redis_url_is_required_and_its_password_never_shown() -> None:
    with pytest.raises(ConfigurationError):
        RedisSharedState("http://localhost:6379")
    assert "hunter2" not in repr(RedisSharedState("redis://:hunter2@localhost:6379/0"))
