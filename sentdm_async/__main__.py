"""``python -m sentdm_async``: the ``sentdm-async`` command."""

from .cli import main

raise SystemExit(main())
