"""Carrying a file across channels: a 5 MB photo from WeChat to the duty group on Telegram.

The bot runs in process (WeChat and Telegram configured, the demo roster, SQLite in a temporary
folder) beside the tests' fake WeChat and Telegram APIs on 127.0.0.1, with its outbox sender and
Telegram poller running, as in ``tests/test_files.py``. An entrepreneur opens a request on
WeChat; then, each round, sends a photo of 5 MB (fresh bytes, so nothing is in the file store
yet) as a follow-up. Timed: from WeChat's post of the message to the bot until the fake Telegram
has the photo uploaded to the group: the bot fetches it from WeChat (``media/get``), checks and
stores it, and uploads it (``sendPhoto``). Beside it, in the same run, a text follow-up timed
the same way (until its ``sendMessage`` reaches the group): the cost of the message without the
file. Medians of 3 rounds; the figures are noisy on a shared machine.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import knowledge
from tests.support.fake_telegram import FakeTelegram, Upload
from tests.support.fake_wechat import image_xml
from tests.support.wechat import ENTREPRENEUR, open_request, serve

__all__ = ["Row", "print_table", "run"]

SIZE = 5 * 1024 * 1024
GROUP = -1002000000001
"""The demo roster's duty group on Telegram for 北大科技园."""
TOKEN = "123:ABC"


@dataclass(frozen=True)
class Row:
    """One case's samples, in seconds."""

    case: str
    samples: list[float]


def run(quick: bool = False) -> list[Row]:
    """Time ``rounds`` photos and as many texts (3, or 1 with ``quick``)."""
    return asyncio.run(_run(1 if quick else 3))


async def _run(rounds: int) -> list[Row]:
    files: list[float] = []
    texts: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        async with (
            FakeTelegram(token=TOKEN) as telegram,
            serve(
                f"sqlite+aiosqlite:///{work / 'bot.db'}",
                Path(knowledge.__file__).parent / "faq",
                telegram_token=TOKEN,
                telegram_api_url=telegram.root,
                files_dir=work / "files",
            ) as site,
        ):
            assert site.bot.telegram is not None
            await site.bot.telegram.start()
            stop = asyncio.Event()
            polling = asyncio.create_task(site.bot.telegram.poll(stop))
            try:
                await open_request(site)
                await telegram.wait_for(
                    lambda c: c.method == "sendMessage" and c.params.get("chat_id") == GROUP,
                    timeout=30,
                )
                for n in range(rounds):
                    photo = b"\xff\xd8\xff\xe0" + os.urandom(SIZE - 4)
                    media = site.fake.add_media(photo, "image", "photo.jpg")
                    started = time.perf_counter()
                    await site.post(image_xml(ENTREPRENEUR, media, "http://mmbiz/p.jpg", 700 + n))
                    await telegram.wait_until(partial(_uploaded, telegram, photo), timeout=60)
                    files.append(time.perf_counter() - started)
                    words = f"营业执照号 9112000000{n}"
                    started = time.perf_counter()
                    await site.say(ENTREPRENEUR, words, 800 + n)
                    await telegram.wait_until(partial(_said, telegram, words), timeout=60)
                    texts.append(time.perf_counter() - started)
            finally:
                stop.set()
                await polling
                await site.bot.telegram.stop()
    return [Row("5 MB photo, WeChat → Telegram group", files), Row("text only (baseline)", texts)]


def _uploaded(telegram: FakeTelegram, data: bytes) -> bool:
    return any(
        isinstance(c.params.get("photo"), Upload) and c.params["photo"].data == data
        for c in telegram.calls_of("sendPhoto")
    )


def _said(telegram: FakeTelegram, words: str) -> bool:
    return any(words in str(c.params.get("text", "")) for c in telegram.calls_of("sendMessage"))


def print_table(rows: Sequence[Row]) -> None:
    """The rows as a Markdown table."""
    print("\n## Carrying a file across channels\n")
    print(
        "A follow-up from WeChat timed until the fake Telegram has it in the duty group: with a "
        "5 MB photo (fetched with `media/get`, checked, stored, uploaded with `sendPhoto`), and "
        f"as text only, in the same run. Median of {len(rows[0].samples)} rounds (noisy).\n"
    )
    print("| case | median (s) | min (s) | max (s) |")
    print("|---|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row.case} | {statistics.median(row.samples):.3f} | "
            f"{min(row.samples):.3f} | {max(row.samples):.3f} |"
        )


if __name__ == "__main__":
    print_table(run())
