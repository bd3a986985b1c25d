"""Fleet mode's shared state: the SharedState protocol, its settings, and the Redis store with its Lua scripts.

Every decision the fleet makes is one Lua script, run atomically by Redis on Redis's own clock
(``TIME``; a test may pass the time in instead). One hash per breaker scope, keyed
``{namespace}:cb:{origin or "origin operation"}``, holds ``state``, ``gen`` (the generation:
every transition starts one), ``probe_at``, and the closed window's ``fails``/``calls``; a sorted
set beside it holds the distinct workers that failed in the window (the quorum), another the
half-open probe reservations, each scored by its expiry. The retry budget is one hash of ten
time slots of requests and retries, as :class:`~resilience.RetryBudget` keeps them locally.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Sequence
from typing import Any, Final, Literal, Protocol, runtime_checkable

import attrs

from ._errors import APIError, ConfigurationError

__all__ = ["FleetSettings", "RedisSharedState", "ScriptCall", "SharedState", "SharedStateError"]


class SharedStateError(APIError):
    """The shared state (Redis) could not be reached or answered wrongly; the client falls back to
    its local breaker and budget. Never raised to a caller of the API: the fleet sync catches it."""


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{attribute.name} must be a finite number > 0, got {value!r}")


def _at_least_one(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{attribute.name} must be an int >= 1, got {value!r}")


@attrs.frozen(slots=True, kw_only=True)
class FleetSettings:
    """How a worker takes part in the fleet.

    ``sync_interval``: seconds a worker's local view is trusted before it flushes its outcome counts
    and reads the fleet state again. ``quorum``: distinct workers that must have failed in the window
    before the fleet opens. ``window``: seconds of the fleet's failure window (a tumbling window).
    ``probe_ttl``: seconds a half-open probe reservation lives (a worker that dies holding one frees
    it then). ``timeout``: socket connect/read timeout of every Redis exchange (40 ms): a slow or dead
    Redis makes the client fall back to its local breaker and budget within 50 ms. ``lease``: retry-budget
    tokens a worker takes from the fleet ahead of need. ``namespace``: the prefix of every key.
    """

    sync_interval: float = attrs.field(default=0.25, validator=_positive)
    quorum: int = attrs.field(default=1, validator=_at_least_one)
    window: float = attrs.field(default=10.0, validator=_positive)
    probe_ttl: float = attrs.field(default=10.0, validator=_positive)
    timeout: float = attrs.field(default=0.04, validator=_positive)
    lease: int = attrs.field(default=2, validator=_at_least_one)
    namespace: str = attrs.field(default="resilience")


@attrs.frozen(slots=True)
class ScriptCall:
    """One decision to run: the script's name (``report``, ``reserve`` or ``budget``), its keys and arguments."""

    script: Literal["report", "reserve", "budget"]
    keys: tuple[str, ...]
    args: tuple[str | int | float, ...]


@runtime_checkable
class SharedState(Protocol):
    """Where a fleet keeps what it shares. ``run``/``arun`` execute the calls in one round trip and
    return one reply per call (as Redis returns a script's reply), or raise :class:`SharedStateError`.
    ``run`` serves the sync client (from a background thread), ``arun`` the async one (on its loop)."""

    @property
    def settings(self) -> FleetSettings:
        """How the workers take part in the fleet (sync interval, quorum, timeouts, ...)."""
        ...

    @property
    def round_trips(self) -> int:
        """Network exchanges so far (the ``fleet`` metrics' round trips)."""
        ...

    def run(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """Run ``calls`` in one round trip, blocking; one reply per call, or :class:`SharedStateError`."""
        ...

    async def arun(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """:meth:`run` on the event loop, never blocking it."""
        ...

    def close(self) -> None:
        """Close the blocking client's connections."""
        ...

    async def aclose(self) -> None:
        """Close every connection (the asyncio client's too)."""
        ...


# -- the Lua scripts ---------------------------------------------------------------------------

# Shared by the breaker scripts: read the hash, take the time (Redis's, or ARGV[2] in tests), make
# the OPEN -> HALF_OPEN transition when due. ARGV[1] is the breaker's configuration as JSON.
_BREAKER_PRELUDE: Final = """
local key, fkey, pkey = KEYS[1], KEYS[2], KEYS[3]
local cfg = cjson.decode(ARGV[1])
local now
if ARGV[2] ~= '' then now = tonumber(ARGV[2]) else
  local t = redis.call('TIME'); now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local h = redis.call('HMGET', key, 'state', 'gen', 'probe_at', 'win_start', 'fails', 'calls', 'ok')
local state = h[1] or 'closed'
local gen = tonumber(h[2] or '0')
local probe_at = tonumber(h[3] or '0')
local win_start = tonumber(h[4] or tostring(now))
local fails = tonumber(h[5] or '0')
local calls = tonumber(h[6] or '0')
local ok = tonumber(h[7] or '0')
local function enter(new)
  gen = gen + 1; state = new; fails = 0; calls = 0; ok = 0; win_start = now; probe_at = 0
  if new == 'open' then probe_at = now + cfg.recovery_ms end
  redis.call('DEL', fkey, pkey)
end
local function finish(extra)
  redis.call('HSET', key, 'state', state, 'gen', gen, 'probe_at', probe_at, 'win_start', win_start,
    'fails', fails, 'calls', calls, 'ok', ok)
  redis.call('PEXPIRE', key, cfg.ttl_ms)
  local retry = 0
  if state == 'open' then retry = probe_at - now end
  return {state, gen, retry, redis.call('ZCARD', pkey), fails, calls, extra}
end
if state == 'open' and now >= probe_at then enter('half_open') end
"""

#: ARGV: cfg, now, worker, generation seen (-1: not known yet, the current one), failures, successes,
#: then (token, outcome) pairs of probes done. Counts of another generation than the current one
#: count for nothing; a probe
#: result counts only while its reservation is held (not expired, same generation).
REPORT_LUA: Final = (
    _BREAKER_PRELUDE
    + """
local seen, f, s = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if seen == -1 then seen = gen end
for i = 7, #ARGV - 1, 2 do
  if state == 'half_open' and redis.call('ZREM', pkey, ARGV[i]) == 1 then
    if ARGV[i + 1] == 'failure' then enter('open')
    elseif ARGV[i + 1] == 'success' then
      ok = ok + 1
      if ok >= cfg.success_threshold then enter('closed') end
    end
  end
end
if state == 'closed' and now - win_start >= cfg.window_ms then
  fails = 0; calls = 0; win_start = now; redis.call('DEL', fkey)
end
if state == 'closed' and seen == gen and f + s > 0 then
  fails = fails + f; calls = calls + f + s
  if f > 0 then
    redis.call('ZADD', fkey, now, ARGV[3]); redis.call('PEXPIRE', fkey, cfg.window_ms * 2)
  end
  local enough
  if cfg.mode == 'count' then enough = fails >= cfg.failure_threshold else enough = calls >= cfg.minimum_calls end
  if enough and fails >= cfg.rate * calls and redis.call('ZCARD', fkey) >= cfg.quorum then enter('open') end
end
return finish(0)
"""
)

#: ARGV: cfg, now, worker, how many probes wanted. Grants reservations while HALF_OPEN, at most
#: half_open_max_calls held fleet-wide (expired ones dropped first); the reply's last item is the
#: list of tokens granted.
RESERVE_LUA: Final = (
    _BREAKER_PRELUDE
    + """
local granted = {}
if state == 'half_open' then
  redis.call('ZREMRANGEBYSCORE', pkey, '-inf', now)
  local n = math.min(tonumber(ARGV[4]), cfg.half_open_max - redis.call('ZCARD', pkey))
  for _ = 1, n do
    local token = gen .. ':' .. ARGV[3] .. ':' .. redis.call('HINCRBY', key, 'seq', 1)
    redis.call('ZADD', pkey, now + cfg.probe_ttl_ms, token)
    granted[#granted + 1] = token
  end
  redis.call('PEXPIRE', pkey, cfg.ttl_ms)
end
return finish(granted)
"""
)

#: KEYS: the budget hash. ARGV: cfg, now, requests to deposit, unused tokens given back, tokens
#: wanted. Ten slots over the window, as RetryBudget; retries allowed = percent * requests +
#: min_per_second * window. Replies {granted, balance left as a string}.
BUDGET_LUA: Final = """
local key = KEYS[1]
local cfg = cjson.decode(ARGV[1])
local now
if ARGV[2] ~= '' then now = tonumber(ARGV[2]) else
  local t = redis.call('TIME'); now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local tick = math.floor(now / (cfg.window_ms / 10))
local i = tick % 10
if tonumber(redis.call('HGET', key, 't' .. i) or '-1') ~= tick then
  redis.call('HSET', key, 't' .. i, tick, 'r' .. i, 0, 'x' .. i, 0)
end
local deposit, back, want = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if deposit > 0 then redis.call('HINCRBY', key, 'r' .. i, deposit) end
if back > 0 then redis.call('HINCRBY', key, 'x' .. i, -back) end
local requests, retries = 0, 0
for j = 0, 9 do
  local v = redis.call('HMGET', key, 't' .. j, 'r' .. j, 'x' .. j)
  if v[1] and tonumber(v[1]) > tick - 10 then
    requests = requests + tonumber(v[2]); retries = retries + tonumber(v[3])
  end
end
if retries < 0 then retries = 0 end
local left = cfg.percent * requests + cfg.min_per_second * cfg.window_ms / 1000 - retries
local grant = math.max(0, math.min(want, math.floor(left)))
if grant > 0 then redis.call('HINCRBY', key, 'x' .. i, grant) end
redis.call('PEXPIRE', key, cfg.window_ms * 2)
return {grant, tostring(left - grant)}
"""

SCRIPTS: Final = {"report": REPORT_LUA, "reserve": RESERVE_LUA, "budget": BUDGET_LUA}


# -- the Redis store ---------------------------------------------------------------------------


def shown_url(url: str) -> str:
    """A Redis URL as logs and reprs may show it: scheme, host, port and database, no credentials."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or 6379
    except ValueError:
        port = "?"  # type: ignore[assignment]
    return f"{parts.scheme}://{parts.hostname}:{port}{parts.path or '/0'}"


class RedisSharedState:
    """:class:`SharedState` on Redis through redis-py (``pip install 'finops-sdk[redis]'``): the
    blocking client for the sync SDK client, ``redis.asyncio`` for the async one, each made on first
    use with ``settings.timeout`` as its connect and read timeout and no retries of its own (the
    fleet sync decides what a failure means). Scripts run by EVALSHA; after a Redis restart
    (NOSCRIPT) they are loaded again and the exchange is repeated once."""

    def __init__(self, url: str, settings: FleetSettings | None = None) -> None:
        if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("redis", "rediss", "unix"):
            raise ConfigurationError("shared_state must be a redis:// (or rediss://, unix://) URL or a SharedState")
        self._url = url
        self._settings = settings if settings is not None else FleetSettings()
        self._sync: Any = None
        self._async: Any = None
        self._shas: dict[str, str] = {}
        self._round_trips = 0

    @property
    def settings(self) -> FleetSettings:
        """How the workers take part in the fleet."""
        return self._settings

    @property
    def round_trips(self) -> int:
        """Network exchanges with Redis so far (a pipeline of several scripts is one)."""
        return self._round_trips

    def __repr__(self) -> str:
        return f"RedisSharedState({shown_url(self._url)!r})"

    def _options(self) -> dict[str, Any]:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        t = self._settings.timeout
        return {"socket_timeout": t, "socket_connect_timeout": t, "retry": Retry(NoBackoff(), 0)}

    def _sha(self, name: str) -> str:
        if name not in self._shas:
            import hashlib

            self._shas[name] = hashlib.sha1(SCRIPTS[name].encode(), usedforsecurity=False).hexdigest()
        return self._shas[name]

    def run(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """Run ``calls`` by EVALSHA in one pipeline on the blocking client (made on first use)."""
        import redis

        if self._sync is None:
            self._sync = redis.Redis.from_url(self._url, **self._options())
        for attempt in (0, 1):
            pipe = self._sync.pipeline(transaction=False)
            for c in calls:
                pipe.evalsha(self._sha(c.script), len(c.keys), *c.keys, *c.args)
            try:
                self._round_trips += 1
                return list(pipe.execute())
            except redis.exceptions.NoScriptError as exc:
                if attempt:
                    raise SharedStateError("Redis lost the fleet scripts twice in a row") from exc
                self._round_trips += 1
                for source in SCRIPTS.values():
                    self._sync.script_load(source)
            except redis.exceptions.RedisError as exc:
                raise SharedStateError(f"Redis at {shown_url(self._url)}: {type(exc).__name__}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def arun(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """Run ``calls`` by EVALSHA in one pipeline on the ``redis.asyncio`` client (made on first use)."""
        import redis
        import redis.asyncio

        if self._async is None:
            self._async = redis.asyncio.Redis.from_url(self._url, **self._async_options())
        for attempt in (0, 1):
            pipe = self._async.pipeline(transaction=False)
            for c in calls:
                pipe.evalsha(self._sha(c.script), len(c.keys), *c.keys, *c.args)
            try:
                self._round_trips += 1
                return list(await pipe.execute())
            except redis.exceptions.NoScriptError as exc:
                if attempt:
                    raise SharedStateError("Redis lost the fleet scripts twice in a row") from exc
                self._round_trips += 1
                for source in SCRIPTS.values():
                    await self._async.script_load(source)
            except (redis.exceptions.RedisError, OSError, TimeoutError) as exc:
                raise SharedStateError(f"Redis at {shown_url(self._url)}: {type(exc).__name__}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _async_options(self) -> dict[str, Any]:
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        options = self._options()
        options["retry"] = Retry(NoBackoff(), 0)
        return options

    def close(self) -> None:
        """Close the blocking client's connections."""
        client, self._sync = self._sync, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the asyncio client's connections, then the blocking client's."""
        client, self._async = self._async, None
        if client is not None:
            await client.aclose()
        self.close()
