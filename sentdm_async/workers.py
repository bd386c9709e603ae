"""Bulk jobs on taskiq workers: chunks through a Redis stream broker, one shared budget.

A million ids take 83 hours at 200 requests/min, whatever the number of workers, so such a job
must survive restarts and redeploys. This module cuts a job into chunks, enqueues one taskiq
message per chunk on taskiq-redis's `RedisStreamBroker` (a consumer group with acks: a message
is acknowledged only after its chunk is stored, and one whose worker died is claimed again by
another worker after ``idle_timeout``), and runs each chunk on a worker with a client whose
budget is a `RedisRateBudget`: every worker together stays under the account's limit.

Results go to Redis, keyed by message id (a redone chunk overwrites its own answers), with the
chunks done in a set, so `progress` can report and `results` read them from anywhere::

    # tasks.py, imported by the workers (``taskiq worker tasks:broker``) and by the producer
    broker = make_broker(REDIS_URL)
    fetch_chunk = register(broker, api_key=API_KEY, redis_url=REDIS_URL)

    # the producer
    await broker.startup()
    await enqueue(fetch_chunk, REDIS_URL, API_KEY, "job-1", ids, chunk_size=100)
    await wait(fetch_chunk, REDIS_URL, API_KEY, "job-1", on_progress=print)

Pitfalls, handled by the defaults and worth knowing:

- A chunk must run well under the broker's ``idle_timeout``, or a live worker's chunk is handed
  to another one as well: at 200 requests/min a chunk of 100 ids takes about 30 s, and the
  timeout here is 10 minutes. Size chunks to the rate, not to the worker count.
- The broker's stream is trimmed (``maxlen``) so finished messages do not pile up in Redis;
  keep it well above the number of chunks waiting, or trimming drops work not yet read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, TypeAlias

import anyio
import msgspec

from .jobs import result_line
from .redis import account_tag

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Sequence

    from taskiq import AsyncTaskiqDecoratedTask
    from taskiq_redis import RedisStreamBroker

__all__ = ["ChunkTask", "enqueue", "make_broker", "progress", "register", "results", "wait"]

#: The registered chunk task: ``fetch_chunk(job_id, chunk, ids) -> ids answered``.
ChunkTask: TypeAlias = "AsyncTaskiqDecoratedTask[[str, int, list[str]], Coroutine[Any, Any, int]]"

#: Milliseconds a chunk may stay unacknowledged before another worker takes it over.
DEFAULT_IDLE_TIMEOUT_MS: Final = 600_000
#: Messages the broker's stream keeps (trimmed beyond).
DEFAULT_MAXLEN: Final = 100_000
_ENCODER: Final = msgspec.json.Encoder(decimal_format="string")


def _keys(api_key: str, job_id: str) -> tuple[str, str, str]:
    base = f"{account_tag(api_key)}:job:{job_id}"
    return f"{base}:results", f"{base}:done", f"{base}:meta"


def make_broker(
    redis_url: str,
    *,
    queue_name: str = "sentdm-jobs",
    idle_timeout_ms: int = DEFAULT_IDLE_TIMEOUT_MS,
    maxlen: int = DEFAULT_MAXLEN,
) -> RedisStreamBroker:
    """A taskiq-redis stream broker with acknowledgements (install ``taskiq-redis``)."""
    from taskiq_redis import RedisStreamBroker

    return RedisStreamBroker(
        redis_url, queue_name=queue_name, idle_timeout=idle_timeout_ms, maxlen=maxlen
    )


def register(
    broker: RedisStreamBroker,
    *,
    api_key: str,
    redis_url: str,
    base_url: str | None = None,
    rate_per_minute: float = 200,
    burst: int | None = None,
    concurrency: int = 8,
) -> ChunkTask:
    """Register the chunk task on ``broker`` and return it (for `enqueue`).

    Each worker process makes one client on first use, whose budget is a `RedisRateBudget`
    shared by every worker of the account, and closes it when the broker shuts down.
    """
    from taskiq import TaskiqEvents

    state: dict[str, Any] = {}

    async def client() -> Any:
        if "client" not in state:
            import redis.asyncio as aioredis

            from ._client import AsyncSent
            from .redis import RedisRateBudget

            connection = aioredis.from_url(redis_url)
            budget = RedisRateBudget(
                connection, api_key, rate_per_minute=rate_per_minute, burst=burst
            )
            state["redis"] = connection
            state["client"] = AsyncSent(api_key=api_key, base_url=base_url, rate_limit=budget)
        return state["client"]

    async def close(_: object) -> None:
        """Close this process's client and Redis connection when the broker shuts down."""
        sent, connection = state.pop("client", None), state.pop("redis", None)
        if sent is not None:
            await sent.aclose()
        if connection is not None:
            await connection.aclose()

    broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, close)
    broker.add_event_handler(TaskiqEvents.CLIENT_SHUTDOWN, close)

    @broker.task(task_name="sentdm_async.fetch_chunk")
    async def fetch_chunk(job_id: str, chunk: int, ids: list[str]) -> int:
        """Fetch one chunk's activity logs into Redis; return how many ids it answered."""
        if chunk < 0:
            return 0  # a nudge (see `wait`): its arrival lets the worker reclaim stalled chunks
        sent = await client()
        results_key, done_key, _ = _keys(api_key, job_id)
        answers: dict[str, bytes] = {}
        async with sent.messages.retrieve_activities_many(ids, concurrency=concurrency) as stream:
            async for result in stream:
                answers[result.message_id] = _ENCODER.encode(result_line(result))
        connection = state["redis"]
        async with connection.pipeline(transaction=True) as pipe:
            if answers:
                pipe.hset(results_key, mapping=answers)
            pipe.sadd(done_key, chunk)
            await pipe.execute()
        return len(answers)

    return fetch_chunk


async def enqueue(
    task: ChunkTask,
    redis_url: str,
    api_key: str,
    job_id: str,
    ids: Sequence[str] | Any,
    *,
    chunk_size: int = 100,
) -> int:
    """Enqueue one message per chunk of ``ids`` not done yet; return the number of chunks.

    Enqueueing the same job again enqueues only the chunks not recorded as done, so it also
    resumes a job whose messages were lost (e.g. trimmed from the stream).
    """
    import redis.asyncio as aioredis

    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    _, done_key, meta_key = _keys(api_key, job_id)
    connection = aioredis.from_url(redis_url)
    try:
        done = {int(member) for member in await connection.smembers(done_key)}
        chunk: list[str] = []
        number = 0
        for message_id in ids:
            chunk.append(message_id)
            if len(chunk) == chunk_size:
                if number not in done:
                    await task.kiq(job_id, number, chunk)
                number, chunk = number + 1, []
        if chunk:
            if number not in done:
                await task.kiq(job_id, number, chunk)
            number += 1
        await connection.hset(meta_key, mapping={"chunks": number})
    finally:
        await connection.aclose()
    return number


async def wait(
    task: ChunkTask,
    redis_url: str,
    api_key: str,
    job_id: str,
    *,
    idle_timeout_ms: int = DEFAULT_IDLE_TIMEOUT_MS,
    interval: float = 1.0,
    on_progress: Callable[[int, int], object] | None = None,
) -> None:
    """Wait until every chunk of the job is done, reporting progress every ``interval`` s.

    taskiq-redis's workers claim a dead worker's messages only after reading a new message
    (their listen loop reaches XAUTOCLAIM only then), so a queue that went quiet would leave
    those chunks stranded. When nothing progressed for ``idle_timeout_ms``, this sends a
    no-op nudge (chunk -1) so a live worker wakes up and takes them over.
    """
    last, quiet_since = -1, anyio.current_time()
    while True:
        done, total = await progress(redis_url, api_key, job_id)
        if on_progress is not None:
            on_progress(done, total)
        if total and done >= total:
            return
        now = anyio.current_time()
        if done != last:
            last, quiet_since = done, now
        elif now - quiet_since > idle_timeout_ms / 1000:
            await task.kiq(job_id, -1, [])
            quiet_since = now
        await anyio.sleep(interval)


async def progress(redis_url: str, api_key: str, job_id: str) -> tuple[int, int]:
    """``(chunks done, chunks in the job)`` of an enqueued job."""
    import redis.asyncio as aioredis

    _, done_key, meta_key = _keys(api_key, job_id)
    connection = aioredis.from_url(redis_url)
    try:
        done = await connection.scard(done_key)
        total = await connection.hget(meta_key, "chunks")
    finally:
        await connection.aclose()
    return int(done), int(total or 0)


async def results(redis_url: str, api_key: str, job_id: str) -> dict[str, dict[str, Any]]:
    """Every answer of a job so far, by message id (the lines `sentdm_async.jobs` writes)."""
    import redis.asyncio as aioredis

    results_key, _, _ = _keys(api_key, job_id)
    connection = aioredis.from_url(redis_url)
    try:
        stored = await connection.hgetall(results_key)
    finally:
        await connection.aclose()
    return {
        (key.decode() if isinstance(key, bytes) else str(key)): msgspec.json.decode(value)
        for key, value in stored.items()
    }
