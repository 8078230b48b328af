"""Boundaries the design promises: only channel adapters touch a platform SDK."""

from __future__ import annotations

import ast

from tests.support import ROOT

PLATFORM_SDKS = {"telegram", "wechatpy"}
PACKAGES = ("bot", "handlers", "knowledge", "storage")


def test_only_channel_adapters_import_platform_sdks() -> None:
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path.is_relative_to(ROOT / "bot" / "channels"):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                offenders += [
                    f"{path.relative_to(ROOT)}: {n}"
                    for n in names
                    if n.split(".")[0] in PLATFORM_SDKS
                ]
    assert offenders == []


def test_handlers_never_import_channel_adapters() -> None:
    for path in (ROOT / "handlers").rglob("*.py"):
        assert "bot.channels" not in path.read_text(encoding="utf-8"), path


def test_handlers_read_roles_only_through_roles_for() -> None:
    # Roles hold only for a sender the channel vouched for; Roster.roles_for is where that is
    # decided, so a handler asking the roster by account would skip it.
    for path in (ROOT / "handlers").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for bypass in (".roles_of(", ".is_member(", ".admin_accounts"):
            assert bypass not in source, f"{path.relative_to(ROOT)}: {bypass}"
