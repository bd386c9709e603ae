"""``python -m sentdm_async.simulator``: serve the simulator until Ctrl-C."""

from sentdm_async.simulator._cli import run_main

raise SystemExit(run_main())
