"""``sentdm-async simulate``: the local API simulator in the foreground (its own options)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this command's subparser (its options are the simulator's own)."""
    p = sub.add_parser(
        "simulate",
        add_help=False,
        help="run the local API simulator in the foreground ('simulate --help' for options)",
    )
    p.set_defaults(run=None, own_loop=True)
