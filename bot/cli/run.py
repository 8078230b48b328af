"""``python -m bot run``: serve the configured channels until stopped."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys

from bot.app import DemoRefused, create_bot, roster_file
from bot.channels.telegram.channel import TelegramUnavailable
from bot.cli.demo import refuse_demo
from bot.domain.roster.faults import RosterError
from bot.domain.roster.load import DEMO_ROSTER
from bot.server import new_event_loop, serve
from bot.settings import Settings
from knowledge.service import KnowledgeError

__all__ = ["run"]


log = logging.getLogger("bot")


def run(_: argparse.Namespace, settings: Settings) -> int:
    """Serve until SIGTERM or SIGINT; 1 if start-up failed, 2 if refused."""
    try:
        roster_file(settings)  # first: no database made, no platform called for nothing
    except DemoRefused as refused:
        refuse_demo(refused)
        return 2

    async def go() -> int:
        try:
            bot = await create_bot(settings)
        except KnowledgeError as error:
            print("知识库有问题，无法启动：", file=sys.stderr)
            for fault in error.faults:
                print(f"  {fault}", file=sys.stderr)
            return 1
        except RosterError as error:
            print(f"名册有问题，无法启动：{error}", file=sys.stderr)
            return 1
        except OSError as error:
            print(f"无法启动：{error}", file=sys.stderr)
            return 1
        # What start-up built lives as long as the process: jieba's dictionary (some 370,000
        # objects), the knowledge base, the roster. Frozen, the collector stops walking it at
        # each full collection, which stopped the event loop for about 100 ms, often enough
        # under a stream of long messages to show in everyone's slowest answers (bench/flood).
        gc.collect()
        gc.freeze()
        if bot.demo:
            log.warning(
                "demo mode: the demo roster (%s) with open console sign-in, where anyone who "
                "reaches the console can act as anyone in it, admin included; for trying the bot "
                "on this machine only. Set BOT_ROSTER for real use.",
                DEMO_ROSTER,
            )
        try:
            await serve(bot)
        except TelegramUnavailable as error:
            print(f"无法启动：{error}", file=sys.stderr)
            return 1
        except OSError as error:
            print(
                f"无法在 {settings.http_host}:{settings.http_port} 上服务：{error}", file=sys.stderr
            )
            return 1
        finally:
            await bot.close()
        return 0

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        code = runner.run(go())
    # On its way out Python's collector walks every object left (jieba's dictionary, the
    # knowledge base): seconds of the ten that Docker and Kubernetes give between SIGTERM and
    # SIGKILL. Frozen, they are simply freed.
    gc.freeze()
    return code
