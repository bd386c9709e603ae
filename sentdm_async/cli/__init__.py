"""The ``sentdm-async`` command line, one module per command (each registers its subparser).

``main`` is the console script; ``amain`` runs the same command inside an event loop.
"""

from sentdm_async.cli._main import amain as amain
from sentdm_async.cli._main import build_parser as build_parser
from sentdm_async.cli._main import main as main

__all__ = ["amain", "build_parser", "main"]
