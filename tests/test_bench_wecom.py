"""The WeCom benchmark's callbacks are ones the bot takes: `make bench` must measure answers.

A callback :mod:`bench.wecom` builds (its member from its roster, encrypted and signed with its
settings) is posted to the bot, which must answer it with an empty 200 and send the member the
answer the benchmark expects; anything else would show in the table only as errors.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bench.wecom import AGENT_ID, CORP_ID, HEADERS, SECRET, TOKEN, _Messages, member_id, roster_with
from bot.clock import ManualClock
from bot.settings import load_settings
from tests.support.fake_wecom import MESSAGE_SEND, FakeWeCom, new_aes_key
from tests.support.server import in_process


async def test_a_benchmark_callback_is_taken_and_answered_as_the_benchmark_expects(
    tmp_path: Path, faq_dir: Path
) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(roster_with(3), encoding="utf-8")
    aes_key = new_aes_key()
    pairs = [("服务专员多久给我反馈结果？", "")]
    # The benchmark signs with the wall clock: the bot's must read the same time.
    clock = ManualClock(datetime.now(UTC))
    members = {member_id(n) for n in range(3)}
    async with FakeWeCom(CORP_ID, SECRET, AGENT_ID, members=members, clock=clock) as fake:
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            knowledge_dir=faq_dir,
            roster=roster,
            calendar=None,
            web_chat=False,
            wecom_corp_id=CORP_ID,
            wecom_agent_id=AGENT_ID,
            wecom_secret=SECRET,
            wecom_token=TOKEN,
            wecom_aes_key=aes_key,
            wecom_api_url=fake.root,
        )
        async with in_process(settings, clock) as running:
            url = str(running.server.make_url("/wecom"))
            (shot,) = _Messages(pairs, aes_key).batch(1)
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"{url}?{shot.query}", data=shot.body, headers=HEADERS) as response,
            ):
                assert (response.status, await response.text()) == (200, "")
            call = await fake.wait_for(
                lambda c: c.path == MESSAGE_SEND and c.ok and c.touser == shot.userid, timeout=10
            )
    assert "10个工作日" in str((call.body or {})["text"]["content"])
