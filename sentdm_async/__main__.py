"""``python -m sentdm_async``: the ``sentdm-async`` command."""

from sentdm_async.cli import main

raise SystemExit(main())
