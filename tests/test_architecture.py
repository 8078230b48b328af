"""Boundaries the design promises that imports alone cannot show.

Which layer may import which (and that only channel adapters speak to a platform SDK) is
checked by import-linter's contracts in ``pyproject.toml``, run by ``make lint``.
"""

from __future__ import annotations

from tests.support import ROOT


def test_handlers_read_roles_only_through_roles_for() -> None:
    # Roles hold only for a sender the channel vouched for; Roster.roles_for is where that is
    # decided, so a handler or the desk asking the roster by account would skip it.
    for package in ("handlers", "bot/desk"):
        for path in (ROOT / package).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            for bypass in (".roles_of(", ".is_member(", ".admin_accounts"):
                assert bypass not in source, f"{path.relative_to(ROOT)}: {bypass}"
