"""The ``sentdm-async`` command, run in-process against the simulator on a real socket."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from sentdm_async.cli import _output as _cli_output
from sentdm_async.cli import amain, main
from sentdm_async.cli._ids import MAX_LINE, LineSplitter
from sentdm_async.cli._output import BulkProgress, Ticker, Ui, error_info, format_duration
from sentdm_async.cli.demo import latency_buckets
from sentdm_async.cli.watch import MAX_ROWS, WatchBoard
from sentdm_async.errors import APIConnectionError, NotFoundError
from sentdm_async.simulator import Simulator
from sentdm_async.types.messages import Activity, WatchEvent

from .conftest import API_KEY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


class FakeTerminal(io.StringIO):
    """A stderr that claims to be a terminal, so the rich display is used."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key comes from the environment unless a test says otherwise."""
    monkeypatch.setenv("SENT_DM_API_KEY", API_KEY)
    monkeypatch.delenv("SENT_BASE_URL", raising=False)


@pytest.fixture
async def fast_sim() -> AsyncIterator[Simulator]:
    """A simulator whose lifecycles finish within about 0.7 s of real time."""
    async with Simulator(api_key=API_KEY, seed=3, speed=600.0) as simulator:
        yield simulator


async def run(
    capsys: pytest.CaptureFixture[str], sim: Simulator | None, *argv: str
) -> tuple[int, list[dict[str, Any]], str]:
    """Run the command against ``sim``; return exit status, stdout JSON lines and stderr."""
    prefix = ["--base-url", sim.base_url, "--rate-limit", "off"] if sim is not None else []
    code = await amain([*prefix, *argv])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


async def wait_terminal(sim: Simulator, ids: list[str]) -> None:
    """Sleep until every message has reached its final status."""
    ends = [sim.terminal_at(i) for i in ids]
    await asyncio.sleep(max(0.0, max(e for e in ends if e is not None) - time.monotonic()))


# --- activities -------------------------------------------------------------------------------


async def test_activities_from_args(capsys: pytest.CaptureFixture[str], sim: Simulator) -> None:
    """Ids from arguments: one line each, the API's error details, exit 1 and a summary."""
    ids = sim.create_messages(3, outcome="delivered")
    code, lines, err = await run(capsys, sim, "activities", *ids, "no-such-message")
    assert code == 1
    by_id = {line["message_id"]: line for line in lines}
    assert set(by_id) == {*ids, "no-such-message"}
    for message_id in ids:
        line = by_id[message_id]
        assert line["ok"] is True
        assert line["activities"][-1]["status"] == "QUEUED"  # API order: most recent first
        assert line["status"] == line["activities"][0]["status"]
    error = by_id["no-such-message"]["error"]
    assert by_id["no-such-message"]["ok"] is False
    assert error["type"] == "NotFoundError"
    assert error["code"] == "RESOURCE_003"
    assert error["status"] == 404
    assert error["request_id"].startswith("req_")
    assert "3 ok, 1 failed (RESOURCE_003 x1)" in err
    assert "Traceback" not in err


async def test_activities_all_ok_ordered(
    capsys: pytest.CaptureFixture[str], fast_sim: Simulator
) -> None:
    """All ids answered: exit 0; --ordered keeps input order; prices stay decimal strings."""
    ids = fast_sim.create_messages(12, outcome="delivered")
    await wait_terminal(fast_sim, ids)
    code, lines, err = await run(
        capsys, fast_sim, "activities", "--ordered", "--concurrency", "3", *ids
    )
    assert code == 0
    assert [line["message_id"] for line in lines] == ids
    priced = [a for line in lines for a in line["activities"] if a["price"] is not None]
    assert priced
    assert all(isinstance(a["price"], str) for a in priced)
    assert "12 ok, 0 failed" in err


async def test_activities_ids_file(
    capsys: pytest.CaptureFixture[str], sim: Simulator, tmp_path: Path
) -> None:
    """An ids file: blank and comment lines skipped, malformed ids reported as error lines."""
    ids = sim.create_messages(3, outcome="failed")
    path = tmp_path / "ids.txt"
    path.write_text(
        f"# ids of today\n\n  {ids[0]}  \n{ids[1]}\r\n..\nbad\x01id\n{'x' * 300}\n   \n{ids[2]}"
    )
    code, lines, err = await run(capsys, sim, "activities", "--ids-file", str(path))
    assert code == 1
    ok = {line["message_id"] for line in lines if line["ok"]}
    assert ok == set(ids)
    bad = [line for line in lines if not line["ok"]]
    assert sorted(line["message_id"] for line in bad) == sorted(["..", "bad\x01id", "x" * 300])
    assert all(line["error"]["type"] == "InvalidIdError" for line in bad)
    assert sim.stats.by_route["activities"] == 3  # malformed ids cost no request
    assert "3 ok, 3 failed (InvalidIdError x3)" in err


async def test_activities_stdin_text(
    capsys: pytest.CaptureFixture[str], sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--ids-file -`` reads stdin (here a stream without a file descriptor)."""
    ids = sim.create_messages(2)
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(["# c", *ids, ""])))
    code, lines, _ = await run(capsys, sim, "activities", "--ids-file", "-")
    assert code == 0
    assert sorted(line["message_id"] for line in lines) == sorted(ids)


@pytest.mark.parametrize(("command", "key"), [("activities", "message_id"), ("status", "id")])
async def test_stdin_pipe(
    capsys: pytest.CaptureFixture[str],
    sim: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    key: str,
) -> None:
    """A piped stdin is read through the event loop and left blocking and open afterwards."""
    ids = sim.create_messages(3)
    read_fd, write_fd = os.pipe()
    os.write(write_fd, ("\n".join(ids) + "\n").encode())
    os.close(write_fd)
    with os.fdopen(read_fd, "r") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        code, lines, _ = await run(capsys, sim, command, "--ids-file", "-")
        assert os.get_blocking(read_fd)
        os.fstat(read_fd)  # still open: only a duplicate was closed
    assert code == 0
    assert sorted(line[key] for line in lines) == sorted(ids)


async def test_activities_resume_after_interruption(
    capsys: pytest.CaptureFixture[str], sim: Simulator, tmp_path: Path
) -> None:
    """--resume fetches only ids without a line, repairs a torn last line, appends to FILE."""
    ids = sim.create_messages(6, outcome="delivered")
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    resume = tmp_path / "out.jsonl"
    earlier = [
        {"message_id": ids[0], "ok": True, "status": "QUEUED", "activities": []},
        {"message_id": ids[1], "ok": False, "error": {"type": "APITimeoutError"}},
    ]
    torn = f'{{"message_id": "{ids[2]}", "ok": tr'
    resume.write_text("".join(json.dumps(line) + "\n" for line in earlier) + torn)

    code, lines, err = await run(
        capsys, sim, "activities", "--ids-file", str(ids_file), "--resume", str(resume)
    )
    assert code == 0
    assert lines == []  # the lines went to the resume file
    assert sim.stats.by_message[ids[0]] == 0
    assert sim.stats.by_message[ids[1]] == 0
    assert all(sim.stats.by_message[i] == 1 for i in ids[2:])
    written = [json.loads(line) for line in resume.read_text().splitlines()]
    assert Counter(line["message_id"] for line in written) == Counter(ids)
    assert "4 ok, 0 failed" in err
    assert "2 skipped" in err

    sim.stats.reset()
    code, _, _ = await run(
        capsys,
        sim,
        "activities",
        "--ids-file",
        str(ids_file),
        "--resume",
        str(resume),
        "--retry-failed",
    )
    assert code == 0
    assert dict(sim.stats.by_message) == {ids[1]: 1}  # only the failed one is fetched again


async def test_activities_resume_unterminated_line(
    capsys: pytest.CaptureFixture[str], sim: Simulator, tmp_path: Path
) -> None:
    """A complete last line without a newline is kept, and new lines start on their own line."""
    ids = sim.create_messages(2)
    resume = tmp_path / "out.jsonl"
    resume.write_text(json.dumps({"message_id": ids[0], "ok": True}))
    code, _, _ = await run(capsys, sim, "activities", *ids, "--resume", str(resume))
    assert code == 0
    written = [json.loads(line) for line in resume.read_text().splitlines()]
    assert [line["message_id"] for line in written] == ids


class ThreadRecordingStdout(io.StringIO):
    """A stdout that records the thread of every write."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def write(self, text: str) -> int:
        self.threads.add(threading.get_ident())
        return super().write(text)


async def test_activities_writes_stdout_off_the_event_loop(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JSON lines reach stdout from a worker thread, never from the event loop's."""
    ids = sim.create_messages(40)
    stdout = ThreadRecordingStdout()
    monkeypatch.setattr(sys, "stdout", stdout)
    code = await amain(["--base-url", sim.base_url, "--rate-limit", "off", "activities", *ids])
    assert code == 0
    assert sorted(json.loads(line)["message_id"] for line in stdout.getvalue().splitlines()) == (
        sorted(ids)
    )
    assert stdout.threads
    assert threading.get_ident() not in stdout.threads


class QuietStream:
    """Items that come at once, then none until ``more`` is set (a cancelled read loses none)."""

    def __init__(self, ready: list[int], later: list[int]) -> None:
        self.ready = ready
        self.later = later
        self.more = asyncio.Event()

    def __aiter__(self) -> QuietStream:
        return self

    async def __anext__(self) -> int:
        if not self.ready:
            if not self.later:
                raise StopAsyncIteration
            await self.more.wait()
            self.ready, self.later = self.later, []
        return self.ready.pop(0)


async def test_batches_are_cut_when_full_and_when_the_stream_is_quiet() -> None:
    """A batch ends at its size, and what came is handed on while the stream is quiet.

    The stream stays quiet until the consumer has items 3 and 4: without the idle cut the
    consumer would never see them and the test would hit its deadline.
    """
    stream = QuietStream([0, 1, 2, 3, 4], [5, 6])
    got: list[list[int]] = []
    async with asyncio.timeout(10):
        async for batch in _cli_output.batches(stream, size=3, idle=0.01):
            got.append(batch)
            if 4 in batch:
                stream.more.set()
    assert got == [[0, 1, 2], [3, 4], [5, 6]]


async def test_activities_named_pipe(
    capsys: pytest.CaptureFixture[str], sim: Simulator, tmp_path: Path
) -> None:
    """An ids file that is a named pipe is read as it comes, with --resume skips applied."""
    ids = sim.create_messages(3)
    fifo = tmp_path / "ids.fifo"
    os.mkfifo(fifo)
    resume = tmp_path / "out.jsonl"
    resume.write_text(json.dumps({"message_id": ids[0], "ok": True}) + "\n")

    def produce() -> None:
        with open(fifo, "w") as writer:
            writer.write("\n".join(ids))  # no newline at the end

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        code, _, err = await run(
            capsys, sim, "activities", "--ids-file", str(fifo), "--resume", str(resume)
        )
    finally:
        producer.join()
    assert code == 0
    assert dict(sim.stats.by_message) == {ids[1]: 1, ids[2]: 1}
    assert "1 skipped" in err


async def test_activities_stdin_regular_file(
    capsys: pytest.CaptureFixture[str],
    sim: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A stdin redirected from a regular file is read with plain reads."""
    ids = sim.create_messages(2)
    path = tmp_path / "ids.txt"
    path.write_text("\n".join(ids))
    with path.open() as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        code, lines, _ = await run(capsys, sim, "activities", "--ids-file", "-")
    assert code == 0
    assert len(lines) == 2


async def test_plain_progress_lines(
    capsys: pytest.CaptureFixture[str], sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a terminal, progress is a plain line every PLAIN_INTERVAL seconds."""
    monkeypatch.setattr(_cli_output, "PLAIN_INTERVAL", 0.01)
    sim.latency = 0.02
    ids = sim.create_messages(3)
    code, _, err = await run(capsys, sim, "activities", "--concurrency", "1", *ids)
    assert code == 0
    assert err.count("activities: ") >= 2


@pytest.mark.parametrize("command", ["activities", "status", "watch"])
async def test_bad_key_stops(
    capsys: pytest.CaptureFixture[str], sim: Simulator, command: str
) -> None:
    """A refused key ends the job with exit 2 and a message that does not show the key."""
    ids = sim.create_messages(3)
    code, lines, err = await run(capsys, sim, command, "--api-key", "sk_wrong_secret_key", *ids)
    assert code == 2
    assert lines == []
    assert "refused the key" in err
    assert "AUTH_002" in err
    assert "sk_wrong_secret_key" not in err


async def test_activities_rich_progress(
    capsys: pytest.CaptureFixture[str], sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal the rich progress bar is drawn on stderr; stdout stays pure JSON."""
    ids = sim.create_messages(4)
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code, lines, _ = await run(capsys, sim, "activities", *ids, "missing")
    assert code == 1
    assert len(lines) == 5
    shown = terminal.getvalue()
    assert "activities" in shown
    assert "4 ok, 1 failed" in shown


async def test_activities_without_rich(
    capsys: pytest.CaptureFixture[str], sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without rich, a terminal gets the plain progress lines."""
    for name in ("rich", "rich.console", "rich.progress"):
        monkeypatch.setitem(sys.modules, name, None)
    ids = sim.create_messages(2)
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code, _, _ = await run(capsys, sim, "activities", *ids)
    assert code == 0
    assert "activities: 2/2 done, 0 errors" in terminal.getvalue()


# --- status, contacts, send ---------------------------------------------------------------------


async def test_status(capsys: pytest.CaptureFixture[str], sim: Simulator) -> None:
    """One Message JSON line per id, an error line for a missing one, exit 1."""
    ids = sim.create_messages(2, outcome="failed", channel="whatsapp")
    code, lines, err = await run(capsys, sim, "status", *ids, "missing", "..")
    assert code == 1
    assert [line["id"] for line in lines] == [*ids, "missing", ".."]
    assert lines[0]["channel"] == "whatsapp"
    assert lines[0]["events"]
    assert lines[2]["ok"] is False
    assert lines[2]["error"]["code"] == "RESOURCE_003"
    assert lines[3]["error"]["type"] == "InvalidIdError"
    assert "2 ok, 2 failed" in err


@pytest.mark.parametrize("command", ["status", "activities", "watch"])
async def test_an_empty_id_argument_is_an_error_line(
    capsys: pytest.CaptureFixture[str], sim: Simulator, command: str
) -> None:
    """An empty id argument (an unset shell variable) is reported like ``..``, not skipped."""
    (good,) = sim.create_messages(1, outcome="delivered")
    code, lines, err = await run(capsys, sim, command, good, "", "  ", "..")
    assert code == 1
    bad = [line for line in lines if "error" in line]
    assert len(bad) == 3
    assert all(line["error"]["type"] == "InvalidIdError" for line in bad)
    assert "3 failed" in err


async def test_status_many_from_file(
    capsys: pytest.CaptureFixture[str], sim: Simulator, tmp_path: Path
) -> None:
    """A long ids file is streamed in order; malformed ids cost no request."""
    path = tmp_path / "ids.txt"
    path.write_text("..\n" * 1030)
    code, lines, err = await run(capsys, sim, "status", "--ids-file", str(path))
    assert code == 1
    assert len(lines) == 1030
    assert sim.stats.requests == 0
    assert "0 ok, 1030 failed (InvalidIdError x1030)" in err


async def test_status_one_ok(capsys: pytest.CaptureFixture[str], sim: Simulator) -> None:
    """A single successful status exits 0."""
    (message_id,) = sim.create_messages(1)
    code, lines, _ = await run(capsys, sim, "status", message_id)
    assert code == 0
    assert lines[0]["id"] == message_id


async def test_contacts_limit(capsys: pytest.CaptureFixture[str], sim: Simulator) -> None:
    """--limit stops the stream early, fetching only the pages needed."""
    code, lines, err = await run(capsys, sim, "contacts", "--limit", "5", "--page-size", "2")
    assert code == 0
    assert len(lines) == 5
    assert len({line["id"] for line in lines}) == 5
    assert sim.stats.by_route["contacts"] == 3
    assert "5 contacts" in err


async def test_contacts_filter(capsys: pytest.CaptureFixture[str], sim: Simulator) -> None:
    """--channel filters; --limit alone picks a page size that fits."""
    code, lines, _ = await run(capsys, sim, "contacts", "--channel", "whatsapp", "--limit", "3")
    assert code == 0
    assert len(lines) == 3
    assert all("whatsapp" in line["available_channels"] for line in lines)
    assert sim.stats.by_route["contacts"] == 1


async def test_contacts_api_error(capsys: pytest.CaptureFixture[str], sim: Simulator) -> None:
    """An API error is one line on stderr with its details, exit 1, no traceback."""
    code, _, err = await run(capsys, sim, "contacts", "--page-size", "1000")
    assert code == 1
    assert "BadRequestError" not in err
    assert "page_size" in err
    assert "Traceback" not in err


async def test_send_text(capsys: pytest.CaptureFixture[str], sim: Simulator) -> None:
    """Send prints the SendResult: one recipient (and message id) per number."""
    code, lines, _ = await run(
        capsys,
        sim,
        "send",
        "--to",
        "+15551234567",
        "--to",
        "+15557654321",
        "--text",
        "hello",
        "--channel",
        "sms",
        "--idempotency-key",
        "cli-test-1",
    )
    assert code == 0
    (result,) = lines
    assert result["status"] == "QUEUED"
    assert [r["to"] for r in result["recipients"]] == ["+15551234567", "+15557654321"]
    assert all(r["channel"] == "sms" for r in result["recipients"])
    assert sim.stats.sends == 2


async def test_send_template_sandbox(capsys: pytest.CaptureFixture[str], sim: Simulator) -> None:
    """A template send with parameters; --sandbox creates nothing and says its ids answer 404."""
    code, lines, err = await run(
        capsys,
        sim,
        "send",
        "--to",
        "+15551234567",
        "--template-name",
        "welcome",
        "--param",
        "name=Ann",
        "--sandbox",
    )
    assert code == 0
    assert lines[0]["template_name"] == "welcome"
    assert sim.stats.sends == 0
    assert "sandbox" in err
    assert "404" in err
    (recipient,) = lines[0]["recipients"]
    code, status_lines, _ = await run(capsys, sim, "status", recipient["message_id"])
    assert code == 1
    assert status_lines[0]["error"]["type"] == "NotFoundError"


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--text", "hi", "--param", "a=b"], id="param-with-text"),
        pytest.param(["--text", "hi", "--idempotency-key", "not valid!"], id="bad-key"),
        pytest.param(["--text", "hi", "--template-id", "t"], id="text-and-template"),
        pytest.param(["--template-id", "t", "--param", "novalue"], id="param-without-equals"),
    ],
)
async def test_send_usage_errors(
    capsys: pytest.CaptureFixture[str], sim: Simulator, argv: list[str]
) -> None:
    """Send arguments the client refuses are usage errors: exit 2, nothing sent."""
    code, lines, err = await run(capsys, sim, "send", "--to", "+15551234567", *argv)
    assert code == 2
    assert lines == []
    assert "Traceback" not in err
    assert sim.stats.sends == 0


# --- watch and demo -----------------------------------------------------------------------------


async def test_watch(capsys: pytest.CaptureFixture[str], fast_sim: Simulator) -> None:
    """Watch prints each activity once, one done line per id; a failure makes the exit 1."""
    delivered = fast_sim.create_messages(2, outcome="delivered")
    failed = fast_sim.create_message(outcome="failed")
    await wait_terminal(fast_sim, [*delivered, failed])
    code, lines, err = await run(capsys, fast_sim, "watch", *delivered, failed)
    assert code == 1
    done = {line["message_id"]: line for line in lines if line["done"]}
    assert set(done) == {*delivered, failed}
    assert done[failed]["status"] == "FAILED"
    assert all(done[i]["status"] == "DELIVERED" for i in delivered)
    first = [line for line in lines if line["message_id"] == delivered[0]]
    assert first[0]["status"] == "QUEUED"  # oldest first
    assert "2 ok, 1 failed (FAILED x1)" in err
    assert "client: " in err  # the client's stats at the end
    assert "3/3 watched messages finished" in err


async def test_watch_success_and_until(
    capsys: pytest.CaptureFixture[str], fast_sim: Simulator, tmp_path: Path
) -> None:
    """Exit 0 when all end in a success status, including one named by --until."""
    ids = fast_sim.create_messages(2, outcome="delivered", channel="sms")
    await wait_terminal(fast_sim, ids)
    path = tmp_path / "ids.txt"
    path.write_text("\n".join(ids))
    code, lines, _ = await run(capsys, fast_sim, "watch", "--ids-file", str(path))
    assert code == 0
    code, lines, _ = await run(capsys, fast_sim, "watch", "--until", "sent", ids[0])
    assert code == 0
    assert lines[-1]["status"] == "SENT"
    assert lines[-1]["done"] is True


async def test_watch_timeout_rich(
    capsys: pytest.CaptureFixture[str], fast_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message that never finishes times out: an error line, exit 1; the live table shows."""
    stuck = fast_sim.create_message(outcome="no_receipt")
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code, lines, _ = await run(capsys, fast_sim, "watch", "--timeout", "0.3", stuck, "..")
    assert code == 1
    errors = {line["message_id"]: line["error"] for line in lines if "error" in line}
    assert errors[stuck]["type"] == "WatchTimeoutError"
    assert errors[".."]["type"] == "InvalidIdError"
    shown = terminal.getvalue()
    assert "TIMED OUT" in shown
    assert stuck in shown


async def test_watch_usage_errors(capsys: pytest.CaptureFixture[str], sim: Simulator) -> None:
    """An empty --until is a usage error."""
    code, _, err = await run(capsys, sim, "watch", "--until", ",", "some-id")
    assert code == 2
    assert "--until" in err


async def test_watch_refuses_an_unknown_until(
    capsys: pytest.CaptureFixture[str], sim: Simulator
) -> None:
    """--until FOO exits 2 before any request, naming FOO and the valid statuses."""
    code, lines, err = await run(capsys, sim, "watch", "--until", "delivered,FOO", "some-id")
    assert code == 2
    assert lines == []
    assert "unknown status FOO" in err
    assert "DELIVERED" in err
    assert "SENT" in err
    assert sim.stats.requests == 0


async def test_demo(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo sends, watches to the end, and reports the funnel and latency histogram."""
    code, lines, err = await run(capsys, None, "demo", "--messages", "30", "--speed", "200")
    assert code == 0
    (summary,) = lines
    assert summary["messages"] == 30
    assert summary["funnel"]["QUEUED"] == 30
    delivered = summary["funnel"]["DELIVERED"]
    assert delivered + sum(summary["not_delivered"].values()) == 30
    assert sum(summary["latency_buckets"].values()) == delivered
    assert summary["requests"] >= 30 / 20
    assert "Outcome funnel" in err
    assert "Delivery latency" in err
    assert "429s received" in err
    assert "Client: " in err  # the client's stats at the end
    assert re.search(r"\d+/30 watched messages finished, steps 0 by push / \d+ by poll", err)


async def test_demo_push_compares_polling_with_push(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo's push mode watches one batch both ways and prints them side by side.

    Push+poll needs fewer requests, with no 429 either way (delays are the benchmark's to
    compare: at this clock speed they measure the test machine).
    """
    code, lines, err = await run(
        capsys, None, "demo", "--push", "--messages", "40", "--speed", "400"
    )
    assert code == 0
    (summary,) = lines
    polling, push = summary["polling only"], summary["push+poll"]
    assert push["requests_per_message"] < polling["requests_per_message"]
    assert polling["rate_limited"] == push["rate_limited"] == 0
    assert "requests/message" in err


# --- usage, keys, main --------------------------------------------------------------------------


async def test_missing_api_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No key anywhere: exit 2 with a message naming SENT_DM_API_KEY, no traceback."""
    monkeypatch.delenv("SENT_DM_API_KEY")
    code, lines, err = await run(capsys, None, "status", "some-id")
    assert code == 2
    assert lines == []
    assert "SENT_DM_API_KEY" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["activities", "--bogus", "x"], id="unknown-option"),
        pytest.param(["activities"], id="no-ids"),
        pytest.param(["activities", "x", "--ids-file", "f"], id="args-and-file"),
        pytest.param(["activities", "--ids-file", "/nonexistent/ids"], id="missing-file"),
        pytest.param(["activities", "x", "--resume", "-"], id="resume-stdout"),
        pytest.param(["activities", "x", "--resume", "/"], id="resume-unreadable"),
        pytest.param(["activities", "x", "--resume", "/no/such/dir/f"], id="resume-unwritable"),
        pytest.param(["activities", "x", "--concurrency", "0"], id="zero-concurrency"),
        pytest.param(["activities", "x", "--concurrency", "many"], id="word-concurrency"),
        pytest.param(["status", "x", "--max-retries", "-1"], id="negative-retries"),
        pytest.param(["--rate-limit", "fast", "status", "x"], id="bad-rate-limit"),
        pytest.param(["status", "x", "--timeout", "-1"], id="bad-timeout"),
        pytest.param(["--base-url", "http://example.com", "status", "x"], id="plain-http"),
        pytest.param(["simulate"], id="simulate-needs-main"),
        pytest.param([], id="no-command"),
    ],
)
async def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """Usage errors exit 2 with a message and no traceback."""
    code = await amain(argv)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "error" in err
    assert "Traceback" not in err


async def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--help documents the commands and the --resume choice; --version exits 0."""
    assert await amain(["--help"]) == 0
    assert "activities" in capsys.readouterr().out
    assert await amain(["activities", "--help"]) == 0
    assert "instead of stdout" in capsys.readouterr().out
    assert await amain(["--version"]) == 0


async def test_global_options_after_command(
    capsys: pytest.CaptureFixture[str], sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Client options work after the command too, and do not reset ones given before it."""
    monkeypatch.delenv("SENT_DM_API_KEY")
    (message_id,) = sim.create_messages(1)
    code = await amain(
        ["--api-key", API_KEY, "status", message_id, "--base-url", sim.base_url, "--timeout", "5"]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["id"] == message_id


def test_main_runs_its_own_loop(capsys: pytest.CaptureFixture[str]) -> None:
    """main() runs the command in a fresh event loop; an unreachable API fails the id (exit 1)."""
    code = main(["--base-url", "http://127.0.0.1:1", "--max-retries", "0", "status", "some-id"])
    out, err = capsys.readouterr()
    assert code == 1
    assert json.loads(out)["error"]["type"] == "APIConnectionError"
    assert "Traceback" not in err


def test_main_simulate_delegates(capsys: pytest.CaptureFixture[str]) -> None:
    """``simulate --help`` names this program, every endpoint family served and the fault flags."""
    assert main(["simulate", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: sentdm-async simulate ")
    assert "--port" in out
    assert "--webhook-drop" in out
    assert "sk_test_simulator" in out
    families = {path.split("/")[2] for _, path in Simulator(contacts=0).endpoints()}
    assert {"messages", "webhooks", "voice", "templates"} <= families
    flat = " ".join(out.split())
    for family in families:
        assert f"/v3/{family}" in flat
    assert main(["simulate", "--speed", "-1"]) == 2
    assert "sentdm-async simulate: error" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery differs on Windows")
async def test_simulate_exits_130_on_ctrl_c() -> None:
    """``sentdm-async simulate`` serves until SIGINT, then exits 130 like every command."""
    # Ctrl-C's default handler is put back first: a test run started in the background by a
    # non-interactive shell inherits SIGINT as ignored, and so would the child.
    entry = (
        "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "runpy.run_module('sentdm_async', run_name='__main__', alter_sys=True)"
    )
    args = ["simulate", "--port", "0", "--rate-limit", "0", "--contacts", "0"]
    process = subprocess.Popen(  # noqa: S603, ASYNC220 - a fixed command line; started at once
        [sys.executable, "-c", entry, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 10)
        assert line.startswith(b"Sent simulator listening on http://127.0.0.1:")
        process.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(process.wait, 10) == 130
        assert process.stderr is not None
        assert b"Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_main_interrupted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C exits 130 with a short message."""

    def interrupted(coro: Any) -> int:
        coro.close()
        raise KeyboardInterrupt

    monkeypatch.setattr(asyncio, "run", interrupted)
    assert main(["status", "x"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_main_broken_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    """A closed stdout (``| head``) ends quietly with exit 1."""

    def broken(coro: Any) -> int:
        coro.close()
        raise BrokenPipeError

    monkeypatch.setattr(asyncio, "run", broken)
    assert main(["status", "x"]) == 1


def test_usage_error_from_main(capsys: pytest.CaptureFixture[str]) -> None:
    """main() returns argparse's status instead of raising SystemExit."""
    assert main(["nonsense"]) == 2
    assert "invalid choice" in capsys.readouterr().err


# --- small pieces -------------------------------------------------------------------------------


def test_line_splitter_cuts_long_lines() -> None:
    """Lines are split across chunks and cut at MAX_LINE bytes."""
    splitter = LineSplitter()
    long_line = b"y" * (MAX_LINE + 100)
    lines = splitter.feed(b"ab") + splitter.feed(b"c\n" + long_line[:50])
    lines += splitter.feed(long_line[50:] + b"\nlast")
    lines += splitter.close()
    assert lines == [b"abc", b"y" * MAX_LINE, b"last"]
    assert splitter.close() == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0.42, "0.4s", id="fraction"),
        pytest.param(12.4, "12s", id="seconds"),
        pytest.param(245, "4m05s", id="minutes"),
        pytest.param(7380, "2h03m", id="hours"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    """Durations read naturally at every scale."""
    assert format_duration(seconds) == text


def test_latency_buckets() -> None:
    """Each latency lands in exactly one bucket, by its upper bound."""
    buckets = latency_buckets([0.5, 5.0, 29.9, 61, 3600])
    assert buckets == {
        "<5s": 1,
        "5-10s": 1,
        "10-30s": 1,
        "30-60s": 0,
        "1-2m": 1,
        "2-5m": 0,
        ">5m": 1,
    }


def test_error_info_connection_error() -> None:
    """A connection error has no code or status, only its type and message."""
    info = error_info(APIConnectionError("refused", method="GET", path="/v3/x"))
    assert info == {
        "type": "APIConnectionError",
        "code": None,
        "status": None,
        "request_id": None,
        "message": "refused",
    }


async def test_ticker_emits_periodically() -> None:
    """The plain-output ticker calls back on its interval until stopped."""
    calls: list[float] = []
    ticker = Ticker(lambda: calls.append(time.monotonic()), 0.01)
    ticker.start()
    await asyncio.sleep(0.05)
    await ticker.stop()
    count = len(calls)
    assert count >= 1
    await asyncio.sleep(0.02)
    assert len(calls) == count


def _event(message_id: str, status: str, *, done: bool = False) -> WatchEvent:
    activity = Activity(status=status, timestamp=datetime(2025, 1, 1, tzinfo=UTC))
    return WatchEvent(message_id=message_id, activity=activity, done=done)


def test_watch_board_counts_beyond_max_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_ROWS messages the live table shows counts by status."""
    monkeypatch.setattr(sys, "stderr", FakeTerminal())
    ui = Ui()
    assert ui.console is not None
    board = WatchBoard(MAX_ROWS + 5, extra=lambda: "7 requests")
    for i in range(MAX_ROWS + 5):
        board.add(f"m{i}")
        board.record(_event(f"m{i}", "QUEUED"))
    board.record(_event("m0", "DELIVERED", done=True))
    error = NotFoundError("Message not found", status_code=404, code="RESOURCE_003")
    board.record(WatchEvent(message_id="m1", error=error, done=True))
    with ui.console.capture() as capture:
        ui.console.print(board.render())
    shown = capture.get()
    assert "QUEUED" in shown
    assert str(MAX_ROWS + 3) in shown
    assert "RESOURCE_003" in shown
    assert "7 requests" in shown
    assert "m5" not in shown
    assert board.plain_line("watch").startswith("watch: 2/25 done, 1 succeeded")
    assert board.unsuccessful == Counter({"RESOURCE_003": 1})


def test_bulk_progress_eta() -> None:
    """The plain progress line shows the rate and, with a known total, the ETA."""
    now = [100.0]
    progress = BulkProgress(Ui(), "activities", 10, clock=lambda: now[0])
    for _ in range(4):
        progress.advance(ok=True)
    progress.advance(ok=False)
    now[0] += 10.0
    assert progress.plain_line() == "activities: 5/10 done, 1 errors, 0.5/s, ETA 10s"
