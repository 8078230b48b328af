"""The refusal of the demo roster where others could reach it, said alike by every command."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from bot.domain.roster.load import DEMO_ROSTER

if TYPE_CHECKING:
    from bot.app import DemoRefused

__all__ = ["refuse_demo"]


def refuse_demo(refused: DemoRefused) -> None:
    """Say why the demo roster cannot be used here, and what to set instead."""
    print("未设置 BOT_ROSTER，而这里不能用演示名册：", file=sys.stderr)
    for reason in refused.reasons:
        print(f"  · {reason}", file=sys.stderr)
    print(
        "没有名册时，机器人用演示名册，其控制台允许任何人选一个人登录，包括管理员。"
        f"请把 BOT_ROSTER 设为你的名册文件（可从 {DEMO_ROSTER} 复制一份开始）。\n"
        "Set BOT_ROSTER to your roster file: without one, anyone could sign in as admin.",
        file=sys.stderr,
    )
