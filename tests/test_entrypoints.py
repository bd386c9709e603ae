"""The ``python -m`` entry points and the public namespace."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import pytest

import sentdm_async


@pytest.mark.parametrize("module", ["sentdm_async", "sentdm_async.simulator"])
def test_python_dash_m(
    module: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m`` runs the command and exits with its status."""
    monkeypatch.setattr(sys, "argv", [module, "--help"])
    with pytest.raises(SystemExit) as info:
        runpy.run_module(module, run_name="__main__")
    assert info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted, names only real attributes, and covers every public name."""
    names = sentdm_async.__all__

    def isort_style(name: str) -> tuple[int, str]:  # ruff RUF022: CONSTANTS, Classes, others
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert names == sorted(names, key=isort_style)
    for name in names:
        assert hasattr(sentdm_async, name), name
    public = {
        n
        for n in vars(sentdm_async)
        if not n.startswith("_") and n not in {"annotations", "version", "PackageNotFoundError"}
    }
    modules = {
        "cli",
        "errors",
        "jobs",
        "models",
        "progress",
        "otel",
        "redis",
        "resources",
        "simulator",
        "testing",
        "types",
        "webhooks",
        "workers",
    }
    assert public - modules <= set(names)
    assert sentdm_async.__version__


def test_readme_lists_the_public_surface_once() -> None:
    """The README's "Public names" section lists exactly ``sentdm_async.__all__``, each once."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Public names", 1)[1].split("\n## ", 1)[0]
    listed = [
        name
        for item in re.findall(r"^- \*\*[^*]+:\*\* (.+?)(?=^- |\Z)", section, re.M | re.S)
        for name in re.findall(r"`([A-Za-z_]+)`", item)
    ]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(sentdm_async.__all__)
