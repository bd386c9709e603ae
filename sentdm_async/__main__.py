"""``python -m sentdm_async``: the ``sentdm-async`` command."""

from ._cli import main

raise SystemExit(main())
