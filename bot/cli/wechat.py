"""``python -m bot wechat``: the Official Account's menu."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from bot.channels.wechat.api import WeChatApi, WeChatApiError
from bot.channels.wechat.inbound import MENU
from bot.clock import SystemClock
from bot.settings import Settings

__all__ = ["menu"]


def menu(args: argparse.Namespace, settings: Settings) -> int:
    """``wechat menu``: print the menu as JSON; with ``--push``, install it on the account."""
    print(json.dumps(MENU, ensure_ascii=False, indent=2))
    if not args.push:
        return 0
    if not settings.wechat_app_id or settings.wechat_app_secret is None:
        print("需要 BOT_WECHAT_APP_ID 和 BOT_WECHAT_APP_SECRET 才能设置菜单。", file=sys.stderr)
        return 2
    api = WeChatApi(
        settings.wechat_api_url,
        settings.wechat_app_id,
        settings.wechat_app_secret.get_secret_value(),
        SystemClock(),
    )

    async def push() -> int:
        try:
            await api.create_menu(MENU)
        except WeChatApiError as error:
            print(f"微信拒绝了菜单：{error}", file=sys.stderr)
            return 1
        finally:
            await api.close()
        print("菜单已设置：关注者约 5 分钟内看到新菜单。", file=sys.stderr)
        return 0

    return asyncio.run(push())
