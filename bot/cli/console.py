"""``python -m bot console``: one-time sign-in links to the commissioners' web console."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta

from bot.app import DemoRefused, roster_file
from bot.channels.console.auth import issue_link
from bot.cli.demo import refuse_demo
from bot.clock import SHANGHAI, SystemClock
from bot.domain.roster.faults import RosterError
from bot.domain.roster.load import load_roster
from bot.settings import Settings
from storage import Database

__all__ = ["MAX_LINK_HOURS", "link"]


MAX_LINK_HOURS = 7 * 24
"""A sign-in link is for handing over now; a week is the longest that makes sense."""


def link(args: argparse.Namespace, settings: Settings) -> int:
    """``console link``: print a one-time sign-in link for a person of the roster."""
    if not 1 <= args.hours <= MAX_LINK_HOURS:
        print(f"--hours 应在 1 到 {MAX_LINK_HOURS} 之间，而不是 {args.hours}", file=sys.stderr)
        return 2
    try:
        roster = load_roster(roster_file(settings))
    except DemoRefused as refused:
        refuse_demo(refused)
        return 2
    except RosterError as error:
        print(f"名册有问题：\n{error}", file=sys.stderr)
        return 1
    web_id = args.web_id.strip()
    base_url = args.base_url or f"http://{settings.http_host}:{settings.http_port}"
    now = SystemClock().now()
    lifetime = timedelta(hours=args.hours)

    async def go() -> int:
        database = Database(settings.database_url)
        try:
            await database.migrate()
            person, link = await issue_link(
                database, roster, web_id, now=now, lifetime=lifetime, base_url=base_url
            )
        except KeyError:
            known = [p.id_on("web") for p in roster.people if p.id_on("web")]
            print(
                f"名册（{roster.source}）中没有 web 账号为“{web_id}”的人员，无法生成登录链接。"
                f"\n名册中的 web 账号：{'、'.join(str(k) for k in known) or '无'}",
                file=sys.stderr,
            )
            return 1
        finally:
            await database.close()
        until = (now + lifetime).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        print(
            f"{person.name}的一次性登录链接，{until}（北京时间）前有效，只能用一次：",
            file=sys.stderr,
        )
        print(link)
        return 0

    return asyncio.run(go())
