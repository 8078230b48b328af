"""``python -m bot COMMAND`` in the test's own process: :func:`bot.cli.main` with its output.

What a command prints, the exit code it returns (or exits with, as ``argparse`` does) and the
settings it reads are those of the process it would be: the machine's ``BOT_*`` variables and
the logging set-up are put back afterwards, and no ``.env`` is read. One test per command still
runs it as a process (:data:`COMMAND`), imports and exit included.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.cli import main
from tests.support import ROOT
from tests.support.processes import clean_env

__all__ = ["COMMAND", "Cli", "Command", "run_cli"]

COMMAND = (sys.executable, "-m", "bot")
"""The command line a user types."""
Command = Callable[..., subprocess.CompletedProcess[str]]
"""A command, bound to its words (``partial(cli, "workdays", "due")``): arguments and
``BOT_*`` variables in, what it printed and returned out."""


class Cli:
    """Runs :func:`bot.cli.main` as a test's own process would run ``python -m bot``.

    Args:
        monkeypatch: Sets the command's environment for its run only.
        capsys: Reads what it printed.
        cwd: The folder it runs in.
    """

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cwd: Path
    ) -> None:
        self._monkeypatch = monkeypatch
        self._capsys = capsys
        self._cwd = cwd

    def __call__(
        self, *args: str, stdin: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """``python -m bot ARGS`` with ``BOT_*`` variables ``env`` (and ``stdin``, if given)."""
        self._capsys.readouterr()  # what came before is not this command's
        with self._monkeypatch.context() as patch, _logging_kept():
            for name in os.environ:
                if name.startswith("BOT_"):
                    patch.delenv(name)
            for name, value in clean_env(**env).items():
                if name.startswith("BOT_"):
                    patch.setenv(name, value)
            if stdin is not None:
                patch.setattr(sys, "stdin", io.StringIO(stdin))
            patch.chdir(self._cwd)
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse's refusal, as the process would exit
                code = exit_.code if isinstance(exit_.code, int) else 1
        printed = self._capsys.readouterr()
        return subprocess.CompletedProcess([*COMMAND, *args], code, printed.out, printed.err)


@contextmanager
def _logging_kept() -> Iterator[None]:
    """The command sets up logging for its process; the tests' own is put back after it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, kept in levels.items():
            logging.getLogger(name).setLevel(kept)


def run_cli(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS`` as a process, in ``cwd``, with ``env`` (the smoke tests)."""
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, cwd=cwd, env=clean_env(**env),
        check=False, timeout=120,
    )  # fmt: skip
