"""The porting exercise: an SDK program moves over by the import and the migration table's rows.

``tests/porting/sdk_program.py`` uses 12 endpoints through the official SDK;
``tests/porting/ported_program.py`` is the same program for `sentdm_async`. Every line that
differs carries a ``# port: <row>`` comment naming a row of the README's migration table, and
both programs print the same summary against the simulator.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from sentdm_async.simulator import Simulator

from .conftest import API_KEY
from .porting import ported_program, sdk_program

HERE = Path(__file__).parent
README = (HERE.parent / "README.md").read_text(encoding="utf-8")
MARK = re.compile(r"\s+# port: (.+)$")


def _table_rows() -> set[str]:
    """The first cells of the README's "Moving from the official SDK" table."""
    section = README.split("### Moving from the official SDK", 1)[1].split("\n\n", 2)[1]
    return {cell.strip().strip("`") for cell in re.findall(r"^\| ([^|]+) \|", section, re.M)}


def test_every_changed_line_names_a_migration_row() -> None:
    """Only lines marked ``# port: <row>`` differ, and each row is in the migration table."""
    sdk = (HERE / "porting" / "sdk_program.py").read_text(encoding="utf-8").splitlines()
    ported = (HERE / "porting" / "ported_program.py").read_text(encoding="utf-8").splitlines()
    changed = [line[2:] for line in difflib.ndiff(sdk, ported) if line.startswith("+ ")]
    marked = [line for line in ported if MARK.search(line)]
    assert changed == marked
    rows = _table_rows()
    for line in marked:
        match = MARK.search(line)
        assert match is not None
        assert match.group(1) in rows, line
    assert len({*re.findall(r"client\.(\w+\.\w+)\(", "\n".join(ported))}) >= 12


async def test_both_programs_print_the_same_summary() -> None:
    """The SDK program and its port say the same things about two same-seeded simulators.

    The clock runs so fast that the seeded message is delivered before it is read.
    """
    summaries = []
    for program in (sdk_program, ported_program):
        async with Simulator(api_key=API_KEY, seed=7, speed=1e6) as sim:
            message_id = sim.create_message(outcome="delivered")
            summaries.append(await program.main(API_KEY, sim.base_url, message_id))
    expected, got = summaries
    assert got == expected
    assert "steps: QUEUED" in " ".join(got)
    assert got[-1] == "webhook deleted"
