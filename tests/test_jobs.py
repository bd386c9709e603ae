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
from sentdm_async.jobs import MANIFEST, RESULTS, read_results, run_job

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
