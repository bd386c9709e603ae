"""Durable bulk jobs: chunks, a manifest, and a resume that survives kill -9."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from sentdm_async import ActivityResult, AsyncSent
from sentdm_async.errors import JobMismatchError
from sentdm_async.jobs import MANIFEST, RESULTS, JsonlSink, read_results, run_job

from .conftest import API_KEY

if TYPE_CHECKING:
    from pathlib import Path

    from sentdm_async.simulator import Simulator


def manifest_chunks(folder: Path) -> list[int]:
    path = folder / MANIFEST
    if not path.exists():
        return []
    chunks = []
    for line in path.read_text().splitlines():
        try:
            chunks.append(json.loads(line)["chunk"])
        except ValueError:
            continue
    return chunks


async def test_a_job_writes_every_id_and_a_rerun_skips_it(
    client: AsyncSent, sim: Simulator, tmp_path: Path
) -> None:
    """Every id is answered once, failures included; a second run fetches nothing.

    25 ids in chunks of 10 make 3 chunks in the manifest.
    """
    ids = [*sim.create_messages(22), "missing-1", "missing-2", ".."]
    report = await run_job(client, ids, tmp_path, chunk_size=10, concurrency=4)
    assert (report.chunks, report.results, report.failed, report.skipped_chunks) == (3, 25, 3, 0)
    answers = read_results(tmp_path / RESULTS)
    assert set(answers) == set(ids)
    assert [answers[i]["ok"] for i in ids[-3:]] == [False, False, False]
    assert answers[".."]["error"]["type"] == "InvalidIdError"
    assert sorted(manifest_chunks(tmp_path)) == [0, 1, 2]
    requests = sim.stats.requests
    again = await run_job(client, ids, tmp_path, chunk_size=10)
    assert (again.chunks, again.results, again.skipped_chunks) == (0, 0, 3)
    assert sim.stats.requests == requests


async def test_a_callable_sink_gets_every_result_in_order(
    client: AsyncSent, sim: Simulator, tmp_path: Path
) -> None:
    """Any (async) callable can be the sink: it sees each result once, in input order."""
    ids = sim.create_messages(12)
    seen: list[str] = []

    async def sink(result: ActivityResult) -> None:
        seen.append(result.message_id)

    report = await run_job(client, ids, tmp_path, chunk_size=5, sink=sink)
    assert seen == ids
    assert report.chunks == 3
    assert not (tmp_path / RESULTS).exists()
    with pytest.raises(ValueError, match="chunk_size"):
        await run_job(client, ids, tmp_path, chunk_size=0)


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from sentdm_async import AsyncSent
    from sentdm_async.jobs import run_job

    async def main():
        base_url, ids_file, folder = sys.argv[1:4]
        ids = open(ids_file).read().split()
        async with AsyncSent(api_key={key!r}, base_url=base_url, rate_limit=None) as client:
            await run_job(client, ids, folder, chunk_size=20, concurrency=4)

    asyncio.run(main())
    """
)


async def test_kill_9_redoes_at_most_the_chunks_in_flight(sim: Simulator, tmp_path: Path) -> None:
    """A job killed with SIGKILL mid-run resumes and finishes.

    Every id is answered, finished chunks are not fetched again, and the work redone is bounded
    by the chunks that were in flight.
    """
    ids = sim.create_messages(200)
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(ids))
    folder = tmp_path / "job"
    sim.latency = 0.01  # slow enough to be killed in the middle
    child = subprocess.Popen(  # noqa: S603, ASYNC220 - a fixed command line; started at once
        [sys.executable, "-c", CHILD.format(key=API_KEY), sim.base_url, str(ids_file), str(folder)]
    )
    try:
        for _ in range(1000):
            if len(manifest_chunks(folder)) >= 3:
                break
            await asyncio.sleep(0.01)
        child.send_signal(signal.SIGKILL)
    finally:
        await asyncio.to_thread(child.wait, 30)
    assert child.returncode == -signal.SIGKILL
    done_before = set(manifest_chunks(folder))
    assert 3 <= len(done_before) < 10  # killed in the middle
    requests_before = sim.stats.by_route["activities"]
    sim.latency = 0.0
    async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as client:
        report = await run_job(client, ids, folder, chunk_size=20, concurrency=4)
    assert report.skipped_chunks == len(done_before)
    assert report.results == 200 - 20 * len(done_before)  # only chunks not recorded as done
    redone = requests_before + report.results - 200  # fetched twice: the chunks in flight
    assert 0 <= redone <= 4 * 4 + 20  # the ordered window (4 x concurrency) plus one chunk
    answers = read_results(folder / RESULTS)
    assert set(answers) == set(ids)
    assert all(answer["ok"] for answer in answers.values())
    assert sorted(manifest_chunks(folder)) == list(range(10))


FULL_DISK_CHILD = textwrap.dedent(
    """
    import asyncio, resource, signal, sys
    from sentdm_async import AsyncSent
    from sentdm_async.jobs import run_job

    async def main():
        base_url, ids_file, folder, limit = sys.argv[1:5]
        ids = open(ids_file).read().split()
        # A full disk: writes past `limit` bytes fail with EFBIG (SIGXFSZ would kill instead).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
        async with AsyncSent(api_key={key!r}, base_url=base_url, rate_limit=None) as client:
            await run_job(client, ids, folder, chunk_size=5, concurrency=4)

    asyncio.run(main())
    """
)


async def test_a_rerun_after_a_full_disk_loses_no_id(sim: Simulator, tmp_path: Path) -> None:
    """A run stopped by a full disk leaves a torn line; the rerun cuts it off and answers all."""
    ids = sim.create_messages(60)
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(ids))
    folder = tmp_path / "job"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        FULL_DISK_CHILD.format(key=API_KEY),
        sim.base_url,
        str(ids_file),
        str(folder),
        "20001",
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == 1
    assert b"File too large" in stderr
    torn = (folder / RESULTS).read_bytes()
    assert len(torn) == 20001
    assert not torn.endswith(b"\n")  # the failed write tore the last line
    async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as client:
        report = await run_job(client, ids, folder, chunk_size=5, concurrency=4)
    assert report.skipped_chunks >= 1
    lines = (folder / RESULTS).read_bytes().splitlines()
    assert all(json.loads(line)["message_id"] in ids for line in lines)  # none glued or torn
    assert set(read_results(folder / RESULTS)) == set(ids)


async def test_resuming_with_another_chunk_size_is_refused(
    client: AsyncSent, sim: Simulator, tmp_path: Path
) -> None:
    """The manifest records chunk_size: another size is refused by name, the same one resumes.

    A manifest written before chunk sizes were recorded resumes with any size, as before.
    """
    ids = sim.create_messages(40)
    stop_after = 25

    def sink(result: ActivityResult) -> None:
        if len(seen) == stop_after:
            raise RuntimeError("stopped")  # a crash after two chunks of ten
        seen.append(result.message_id)

    seen: list[str] = []
    with pytest.raises(RuntimeError, match="stopped"):
        await run_job(client, ids, tmp_path, chunk_size=10, sink=sink)
    assert sorted(manifest_chunks(tmp_path)) == [0, 1]
    requests = sim.stats.requests
    with pytest.raises(JobMismatchError, match=r"chunks of 10 ids, not 20.*chunk_size=10"):
        await run_job(client, ids, tmp_path, chunk_size=20, sink=sink)
    assert sim.stats.requests == requests  # refused before any request
    seen.clear()
    stop_after = 100
    report = await run_job(client, ids, tmp_path, chunk_size=10, sink=sink)
    assert (report.skipped_chunks, report.chunks) == (2, 2)
    assert seen == ids[20:]
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / MANIFEST).write_text('{"chunk": 0, "ids": 10}\n')
    report = await run_job(client, ids, legacy, chunk_size=10, sink=sink)
    assert report.skipped_chunks == 1


async def test_a_lone_surrogate_id_is_answered_and_the_job_goes_on(
    client: AsyncSent, sim: Simulator, tmp_path: Path
) -> None:
    """An id that is no valid Unicode gets its InvalidIdError line, escaped; the others follow."""
    ids = [*sim.create_messages(3), "bad\ud800id", *sim.create_messages(3)]
    report = await run_job(client, ids, tmp_path, chunk_size=2)
    assert (report.results, report.failed, report.chunks) == (7, 1, 4)
    answers = read_results(tmp_path / RESULTS)
    assert answers["bad\\ud800id"]["error"]["type"] == "InvalidIdError"
    assert all(answers[i]["ok"] for i in ids if i.isascii())


async def test_the_jsonl_sink_appends_after_a_torn_line(
    client: AsyncSent, sim: Simulator, tmp_path: Path
) -> None:
    """The public JsonlSink still works as a sink: it cuts a torn line, then appends whole ones."""
    path = tmp_path / "mine.jsonl"
    path.write_bytes(b'{"message_id": "old", "ok": true}\n{"message_id": "to')
    ids = sim.create_messages(3)
    sink = JsonlSink(path)
    try:
        report = await run_job(client, ids, tmp_path / "job", chunk_size=2, sink=sink)
        sink.sync()
    finally:
        sink.close()
    sink.close()  # twice is fine
    assert report.chunks == 2
    assert set(read_results(path)) == {"old", *ids}
    assert not (tmp_path / "job" / RESULTS).exists()
