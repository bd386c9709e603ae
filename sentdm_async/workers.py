"""Bulk jobs on taskiq workers: chunks through a Redis stream broker, one shared budget.

A million ids take 83 hours at 200 requests/min, whatever the number of workers, so such a job
must survive restarts and redeploys. This module cuts a job into chunks, enqueues one taskiq
message per chunk on a `ChunkBroker` (taskiq-redis's `RedisStreamBroker`: a consumer group with
acks), and runs each chunk on a worker with a client whose budget is a `RedisRateBudget`: every
worker together stays under the account's limit.

Results go to Redis, keyed by message id (a redone chunk overwrites its own answers), with the
chunks done in a set (a `sentdm_async.progress.RedisProgress` per job), so `progress` can
report and `results` read them from anywhere::

    # tasks.py, imported by the workers (``taskiq worker tasks:broker``) and by the producer

    broker = make_broker(REDIS_URL)
    fetch_chunk = register(broker, api_key=API_KEY, redis_url=REDIS_URL)

    # the producer

    await broker.startup()
    await enqueue(fetch_chunk, REDIS_URL, API_KEY, "job-1", ids, chunk_size=100)
    await wait(fetch_chunk, REDIS_URL, API_KEY, "job-1", on_progress=print)

How a chunk is never lost, and never run twice while it runs:

- **Acknowledged only once stored.** The chunk task takes taskiq's ``manual`` acknowledgement
  (taskiq >= 0.13), so taskiq does not acknowledge a chunk that raised. Each answer is written
  to Redis as it arrives; a Redis error (OOM, READONLY, a restart) is retried with backoff
  (``attempts`` times, 0.5 s doubling to 8 s), and a run that resumes skips the ids already
  stored. Answers Redis refused stay in the worker's memory (at most a chunk's) and are written
  first when it tries the chunk again, so Redis failing costs no request twice. A chunk that
  still cannot be stored, or that raised, is handed back unacknowledged: any worker takes it
  over at once (or after ``idle_timeout`` if even that failed) and goes on from the answers
  stored. It is acknowledged after the chunk is in the done set.
- **A lease on every message a worker holds.** taskiq runs up to ``--max-async-tasks`` (100)
  chunks per worker at once, and they share one budget, so a chunk can take far longer than
  any fixed timeout. The `ChunkBroker` of a worker renews the claim on every message it has
  read and not yet finished (XCLAIM, every quarter of ``idle_timeout``), so its idle time never
  reaches ``idle_timeout`` while the worker lives: only a dead or stuck worker's chunks are
  claimed by another one (XAUTOCLAIM, after every read, so a quiet queue is no obstacle). A
  duplicate that slips through (a worker cut off from Redis longer than ``idle_timeout``) costs
  only the ids not stored yet, and a chunk already done is acknowledged without a request.
- **Prompt shutdown.** When the worker stops listening (SIGTERM, SIGINT), its running chunks are
  cancelled, and every message it holds (running or only read) is handed back unacknowledged
  at once (their stored answers stay): other workers go on with them right away, instead of
  waiting for the worker's chunks that may take minutes, or for ``idle_timeout``.

Pitfall worth knowing: the broker's stream is trimmed (``maxlen``) so finished messages do not
pile up in Redis; keep it well above the number of chunks waiting, or trimming drops work not
yet read (`enqueue` the job again to resend the chunks not done).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Final, TypeAlias, cast

import anyio
import msgspec

from sentdm_async.errors import JobNotFoundError
from sentdm_async.jobs import line_id, result_line
from sentdm_async.progress import RedisProgress, chunked
from sentdm_async.redis import account_tag

try:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError
    from taskiq import AckableMessage, AcknowledgeType, Context, TaskiqDepends, TaskiqEvents
    from taskiq_redis import RedisStreamBroker
except ImportError as exc:  # pragma: no cover - the extra is installed in the tests
    raise ImportError(
        "sentdm_async.workers needs the taskiq extra: pip install 'sentdm-async[taskiq]'"
    ) from exc

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator, Sequence

    from taskiq import AsyncTaskiqDecoratedTask

    from sentdm_async._bulk.activities import ActivityStream
    from sentdm_async._client import AsyncSent

__all__ = [
    "ChunkBroker",
    "ChunkTask",
    "enqueue",
    "make_broker",
    "progress",
    "register",
    "results",
    "wait",
]

logger = logging.getLogger("sentdm_async.workers")

#: The registered chunk task: ``fetch_chunk(job_id, chunk, ids) -> ids answered``.
ChunkTask: TypeAlias = "AsyncTaskiqDecoratedTask[[str, int, list[str]], Coroutine[Any, Any, int]]"

#: Milliseconds a message may go without its lease renewed before another worker takes it over:
#: how long a dead worker's chunks wait. A live worker renews every quarter of it.
DEFAULT_IDLE_TIMEOUT_MS: Final = 60_000
#: Messages the broker's stream keeps (trimmed beyond).
DEFAULT_MAXLEN: Final = 100_000
#: Tries of a chunk whose Redis writes fail before it is handed back to the queue.
DEFAULT_ATTEMPTS: Final = 5
_POLL: Final = 0.5  # seconds between reads of an empty queue
_HAND_BACK_TIMEOUT: Final = 5.0  # seconds
#: Handed-back chunks whose unsaved answers a worker keeps for when it takes them again.
_KEPT_CHUNKS: Final = 100
_FIRST_BACKOFF: Final = 0.5
_MAX_BACKOFF: Final = 8.0
_ENCODER: Final = msgspec.json.Encoder(decimal_format="string")


def _stop_if_cancelled() -> None:
    """Raise `CancelledError` if this task was cancelled, even if the cancellation was lost.

    taskiq stops a worker by cancelling the read in progress once. redis-py 8 can swallow that
    cancellation inside a command (the listen loop then polled on for good, and a SIGTERMed
    worker never exited); the task still counts the request (`asyncio.Task.cancelling`).
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _store(
    connection: Redis, api_key: str, job_id: str, *, chunk_size: int | None = None
) -> RedisProgress:
    """The job's `RedisProgress`: keys ``{account tag}:job:{job_id}:results|done|meta``."""
    return RedisProgress(connection, f"{account_tag(api_key)}:job:{job_id}", chunk_size=chunk_size)


class ChunkBroker(RedisStreamBroker):
    """taskiq-redis's `RedisStreamBroker` whose workers hold a lease on every message they read.

    Made by `make_broker`. In a worker (``broker.listen()``), every message read or claimed is
    held until it is acknowledged or handed back (`release`): a heartbeat renews the claim on
    the held messages every quarter of ``idle_timeout``, and after every read the worker claims
    the messages nobody renewed for ``idle_timeout`` (a dead worker's). When listening stops,
    the chunks running are cancelled (`running` scopes), so the worker exits promptly.
    """

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self._held: dict[bytes, str | None] = {}  # stream id -> taskiq task id
        self._stream_ids: dict[str, bytes] = {}  # taskiq task id -> stream id
        self._running: set[anyio.CancelScope] = set()
        self.stopping = False

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        """Yield the messages for this worker, holding each until acknowledged or released."""
        self.stopping = False
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            async with Redis(connection_pool=self.connection_pool) as connection:
                while True:
                    messages = await self._read(connection)
                    if not messages:
                        # Poll rather than block in XREADGROUP: a blocking read cancelled at
                        # shutdown can leave redis-py's reader waiting forever (seen with
                        # redis-py 8), and the worker would never exit.
                        await asyncio.sleep(_POLL)
                    _stop_if_cancelled()
                    for stream_id, data in messages:
                        yield AckableMessage(data=data, ack=self._acker(stream_id))
        finally:
            self.stopping = True
            heartbeat.cancel()
            for scope in self._running:
                scope.cancel()
            # Hand back every message held, running or only read, in one XCLAIM: clearing them
            # first and leaving it to each cancelled chunk's `release` found nothing to release,
            # and another worker took them only after idle_timeout.
            held = list(self._held)
            self._held.clear()
            self._stream_ids.clear()
            await self._hand_back(held, f"{len(held)} chunks")

    async def _read(self, connection: Redis) -> list[tuple[bytes, bytes]]:
        """Read new messages, then claim those whose holder stopped renewing them; hold all."""
        fetched: Any = await connection.xreadgroup(
            self.consumer_group_name,
            self.consumer_name,
            {self.queue_name: ">"},
            count=self.count,
        )
        entries = [entry for _, stream_entries in fetched or () for entry in stream_entries]
        claimed: Any = await connection.xautoclaim(
            self.queue_name,
            self.consumer_group_name,
            self.consumer_name,
            min_idle_time=self.idle_timeout,
            count=self.unacknowledged_batch_size,
        )
        entries.extend(claimed[1])
        messages = []
        for stream_id, fields in entries:
            data = (fields or {}).get(b"data")
            if data is None:
                continue  # trimmed from the stream while pending
            task_id = None
            with contextlib.suppress(Exception):  # a malformed message: taskiq acks and logs it
                task_id = self.formatter.loads(data).task_id
            self._held[stream_id] = task_id
            if task_id is not None:
                self._stream_ids[task_id] = stream_id
            messages.append((stream_id, data))
        return messages

    def _forget(self, stream_id: bytes) -> None:
        task_id = self._held.pop(stream_id, None)
        if task_id is not None and self._stream_ids.get(task_id) == stream_id:
            del self._stream_ids[task_id]

    def _acker(self, stream_id: bytes) -> Callable[[], Coroutine[Any, Any, None]]:
        async def ack() -> None:
            self._forget(stream_id)  # even if XACK fails: a redelivery finds the chunk done
            async with Redis(connection_pool=self.connection_pool) as connection:
                await connection.xack(self.queue_name, self.consumer_group_name, stream_id)

        return ack

    async def release(self, task_id: str) -> None:
        """Hand the message of ``task_id`` back unacknowledged: any worker may claim it now."""
        stream_id = self._stream_ids.get(task_id)
        if stream_id is None:
            return  # not held (any more): listen's cleanup handed it back already
        self._forget(stream_id)
        await self._hand_back([stream_id], f"chunk message {task_id}")

    async def _hand_back(self, stream_ids: list[bytes], what: str) -> None:
        """Make ``stream_ids`` claimable at once: their idle time set to ``idle_timeout``.

        If this fails too, they are claimable after ``idle_timeout``, as a dead worker's are.
        """
        if not stream_ids:
            return
        try:
            # Bounded: a hung Redis must not keep a stopping worker from exiting.
            with anyio.fail_after(_HAND_BACK_TIMEOUT):
                async with Redis(connection_pool=self.connection_pool) as connection:
                    await connection.xclaim(
                        self.queue_name,
                        self.consumer_group_name,
                        self.consumer_name,
                        0,
                        cast("Any", stream_ids),
                        idle=self.idle_timeout,
                        justid=True,
                    )
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("could not hand %s back at once: %s", what, exc)

    @contextlib.contextmanager
    def running(self) -> Iterator[anyio.CancelScope]:
        """A cancel scope for one chunk's run, cancelled when the worker stops listening."""
        with anyio.CancelScope() as scope:
            if self.stopping:
                scope.cancel()
            self._running.add(scope)
            try:
                yield scope
            finally:
                self._running.discard(scope)

    async def _heartbeat(self) -> None:
        """Renew the claim on every held message, so none reaches ``idle_timeout`` idle."""
        interval = max(self.idle_timeout / 4000, 0.05)
        async with Redis(connection_pool=self.connection_pool) as connection:
            while True:
                await asyncio.sleep(interval)
                held: list[Any] = list(self._held)
                if not held:
                    continue
                try:
                    await connection.xclaim(
                        self.queue_name,
                        self.consumer_group_name,
                        self.consumer_name,
                        0,
                        held,
                        justid=True,
                    )
                except RedisError as exc:
                    logger.warning("could not renew the lease of %d chunks: %s", len(held), exc)


def make_broker(
    redis_url: str,
    *,
    queue_name: str = "sentdm-jobs",
    idle_timeout_ms: int = DEFAULT_IDLE_TIMEOUT_MS,
    maxlen: int = DEFAULT_MAXLEN,
) -> ChunkBroker:
    """A `ChunkBroker` on ``redis_url`` (install the ``taskiq`` extra).

    Args:
        redis_url: The Redis holding the stream (and, usually, the budget and the results).
        queue_name: The stream's key.
        idle_timeout_ms: How long a dead worker's chunks wait before another worker takes
            them over; live workers renew their lease every quarter of it.
        maxlen: Messages the stream keeps (approximately; trimmed beyond).
    """
    return ChunkBroker(
        redis_url, queue_name=queue_name, idle_timeout=idle_timeout_ms, maxlen=maxlen
    )


async def _close_worker_state(state: dict[str, Any]) -> None:
    """Close a worker's client, then its budget (so what it learned last is written), then Redis."""
    for name in ("client", "budget", "redis"):
        resource = state.pop(name, None)
        if resource is not None:
            await resource.aclose()


def register(
    broker: ChunkBroker,
    *,
    api_key: str,
    redis_url: str,
    base_url: str | None = None,
    rate_per_minute: float = 200,
    burst: int | None = None,
    concurrency: int = 8,
    attempts: int = DEFAULT_ATTEMPTS,
) -> ChunkTask:
    """Register the chunk task on ``broker`` and return it (for `enqueue`).

    Each worker process makes one client on first use, whose budget is a `RedisRateBudget`
    shared by every worker of the account, and closes it when the broker shuts down.

    Args:
        broker: From `make_broker`.
        api_key: The account's key.
        redis_url: Where the budget and the results live.
        base_url: The API's base URL (default: Sent's).
        rate_per_minute: The account's request budget, shared by every worker.
        burst: Requests the budget allows at once (default: its own).
        concurrency: Requests in flight per chunk.
        attempts: Tries of a chunk whose Redis writes fail before it is handed back.

    Raises:
        TypeError: ``broker`` is not a `ChunkBroker`.
    """
    if not isinstance(broker, ChunkBroker):
        raise TypeError("register() needs the broker make_broker() returns")
    state: dict[str, Any] = {}
    # Answers of chunks handed back because Redis refused them: written first if this worker
    # takes the chunk again, instead of being fetched again.
    kept: dict[tuple[str, int], dict[str, bytes]] = {}

    async def client() -> tuple[AsyncSent, Redis]:
        if "client" not in state:
            import redis.asyncio as aioredis

            from sentdm_async._client import AsyncSent
            from sentdm_async.redis import RedisRateBudget

            connection = aioredis.from_url(redis_url)
            budget = RedisRateBudget(
                connection, api_key, rate_per_minute=rate_per_minute, burst=burst
            )
            state["redis"] = connection
            state["budget"] = budget
            state["client"] = AsyncSent(api_key=api_key, base_url=base_url, rate_limit=budget)
        return state["client"], state["redis"]

    async def close(_: object) -> None:
        """Close this process's client, budget and Redis connection when the broker shuts down."""
        await _close_worker_state(state)

    broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, close)
    broker.add_event_handler(TaskiqEvents.CLIENT_SHUTDOWN, close)

    # The label is the enum's value: taskiq 0.13.0 sends an enum label as "AcknowledgeType.MANUAL",
    # which its own receiver then refuses.
    @broker.task(task_name="sentdm_async.fetch_chunk", ack_type=AcknowledgeType.MANUAL.value)
    async def fetch_chunk(
        job_id: str,
        chunk: int,
        ids: list[str],
        context: Context = TaskiqDepends(),  # noqa: B008 - taskiq's dependency injection
    ) -> int:
        """Fetch one chunk's activity logs into Redis; return how many ids it answered.

        Acknowledges its message only once the chunk is recorded done; hands it back otherwise.
        """
        live = isinstance(context, Context) and context.is_ackable  # False when called directly
        answered: int | None = 0  # chunk -1 was a nudge of older versions of `wait`: a no-op
        if chunk >= 0:
            answered = None  # unless it completes: handed back (cancelled, or failed)
            unsaved = kept.pop((job_id, chunk), {})
            try:
                with broker.running():
                    sent, connection = await client()
                    store = _store(connection, api_key, job_id)
                    answered = await _run_chunk(
                        sent, store, chunk, ids, concurrency, attempts, unsaved
                    )
            finally:
                if unsaved:
                    _keep(kept, (job_id, chunk), unsaved)
        if not live:
            return answered or 0
        if answered is None:
            await broker.release(context.message.task_id)
            return 0
        with contextlib.suppress(Exception):  # a redelivery then finds the chunk done
            await context.ack()
        return answered

    return cast("ChunkTask", fetch_chunk)


def _keep(
    kept: dict[tuple[str, int], dict[str, bytes]], chunk: tuple[str, int], unsaved: dict[str, bytes]
) -> None:
    """Keep a handed-back chunk's unsaved answers, dropping the oldest chunk's beyond the cap."""
    kept[chunk] = unsaved
    while len(kept) > _KEPT_CHUNKS:
        del kept[next(iter(kept))]  # another worker has probably redone it meanwhile


async def _run_chunk(
    sent: AsyncSent,
    store: RedisProgress,
    chunk: int,
    ids: list[str],
    concurrency: int,
    attempts: int,
    unsaved: dict[str, bytes],
) -> int | None:
    """Try a chunk up to ``attempts`` times; the ids answered, or None if it must be redone.

    None also when cancelled (the worker is stopping): the answers stored so far stay. Answers
    Redis refused stay in ``unsaved`` (at most the chunk's) and are written first on each try,
    so no try fetches an id an earlier one already has an answer for.
    """
    delay = _FIRST_BACKOFF
    for attempt in range(1, max(attempts, 1) + 1):
        try:
            return await _store_chunk(sent, store, chunk, ids, concurrency, unsaved)
        except Exception as exc:  # whatever failed, the chunk must not be lost
            if attempt >= attempts:
                logger.error(  # the cause is in the message: no traceback flood
                    "chunk %d failed %d times (%s: %s); handing it back to the queue",
                    chunk,
                    attempt,
                    type(exc).__name__,
                    exc,
                )
                return None
            logger.warning(
                "chunk %d failed (%s: %s); retrying in %.1f s",
                chunk,
                type(exc).__name__,
                exc,
                delay,
            )
        await anyio.sleep(delay)
        delay = min(delay * 2, _MAX_BACKOFF)
    return None  # pragma: no cover - the loop returns


async def _store_chunk(
    sent: AsyncSent,
    store: RedisProgress,
    chunk: int,
    ids: list[str],
    concurrency: int,
    unsaved: dict[str, bytes],
) -> int:
    """Fetch the ids of ``chunk`` not stored yet, storing each answer as it comes.

    ``unsaved`` (answers an earlier try could not store) is written first. Once Redis refuses
    a write, the rest of the chunk is still fetched but kept in ``unsaved``, and the error is
    raised at the end: the requests are spent anyway, and the next try writes the answers.
    """
    if await store.done([chunk]):
        unsaved.clear()
        return 0  # done by an earlier delivery of this chunk
    if unsaved:
        await store.save(list(unsaved.items()))
        unsaved.clear()
    answered = await store.answered([line_id(i) for i in ids])
    todo = [i for i in ids if line_id(i) not in answered]
    async with sent.messages.retrieve_activities_many(todo, concurrency=concurrency) as stream:
        refused = await _save_each(stream, store, unsaved)
    if refused is not None:
        raise refused
    await store.mark(chunk, len(ids))
    return len(ids)


async def _save_each(
    stream: ActivityStream, store: RedisProgress, unsaved: dict[str, bytes]
) -> RedisError | None:
    """Save each answer of ``stream`` as it comes; once Redis refuses one, keep the rest."""
    refused: RedisError | None = None
    async for result in stream:
        line = result_line(result)
        key, value = line["message_id"], _ENCODER.encode(line)
        if refused is None:
            try:
                await store.save([(key, value)])
                continue
            except RedisError as exc:
                refused = exc  # a hung Redis would cost its timeout per answer: stop trying
        unsaved[key] = value
    return refused


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

    Raises:
        ValueError: ``chunk_size`` below 1.
        JobMismatchError: The job was enqueued before with another ``chunk_size`` (its chunks
            done would not be the chunks skipped); nothing is enqueued.
    """
    import redis.asyncio as aioredis

    chunks = chunked(ids, chunk_size)  # checks chunk_size before any connection
    connection = aioredis.from_url(redis_url)
    try:
        store = _store(connection, api_key, job_id, chunk_size=chunk_size)
        await store.open()
        done = await store.done()
        number = -1
        for number, chunk_ids in chunks:
            if number not in done:
                await task.kiq(job_id, number, chunk_ids)
        await store.plan(number + 1)
    finally:
        await connection.aclose()
    return number + 1


async def wait(
    task: ChunkTask,
    redis_url: str,
    api_key: str,
    job_id: str,
    *,
    interval: float = 1.0,
    on_progress: Callable[[int, int], object] | None = None,
) -> None:
    """Wait until every chunk of the job is done, reporting progress every ``interval`` s.

    A job of no ids is done at once. Workers take over a dead worker's chunks by themselves,
    so waiting sends nothing.

    Raises:
        JobNotFoundError: The job was never enqueued (call `enqueue` first, and let it return).
    """
    del task  # kept for the call's shape: a future version may report through the broker
    while True:
        done, total = await _progress(redis_url, api_key, job_id)
        if total is None:
            raise JobNotFoundError(f"job {job_id!r} was never enqueued (no chunk count in Redis)")
        if on_progress is not None:
            on_progress(done, total)
        if done >= total:
            return
        await anyio.sleep(interval)


async def progress(redis_url: str, api_key: str, job_id: str) -> tuple[int, int]:
    """``(chunks done, chunks in the job)`` of an enqueued job (``(0, 0)`` if unknown)."""
    done, total = await _progress(redis_url, api_key, job_id)
    return done, total or 0


async def _progress(redis_url: str, api_key: str, job_id: str) -> tuple[int, int | None]:
    import redis.asyncio as aioredis

    connection = aioredis.from_url(redis_url)
    try:
        return await _store(connection, api_key, job_id).tally()
    finally:
        await connection.aclose()


async def results(redis_url: str, api_key: str, job_id: str) -> dict[str, dict[str, Any]]:
    """Every answer of a job so far, by message id (the lines `sentdm_async.jobs` writes)."""
    import redis.asyncio as aioredis

    connection = aioredis.from_url(redis_url)
    try:
        return await _store(connection, api_key, job_id).answers()
    finally:
        await connection.aclose()
