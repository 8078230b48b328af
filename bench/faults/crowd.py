"""The people: entrepreneurs asking, and the duty groups' commissioners answering.

Each entrepreneur (:func:`entrepreneur`, through a :class:`TelegramVoice` or a
:class:`WeChatVoice`) picks a maker space and asks two check-set questions; one in
:data:`~bench.faults.scenario.REQUEST_EVERY` then opens a request with a tag of their own in its
text, and a member of the duty group answers it by replying to the request's card in the
Telegram group, or (one in four) by ``#number`` from WeChat. Each message waits for its answer
before the next, as a person would; posts go through the :class:`~bench.faults.balancer.Balancer`.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import aiohttp

from bench.faults.balancer import Balancer, Node
from bench.faults.checker import Arrival, Outcome
from bench.faults.inbox import ANSWER_WAIT_S, Inbox
from bench.faults.scenario import (
    APP_ID,
    REQUEST_EVERY,
    SPACES,
    WECHAT_AES_KEY,
    WECHAT_TOKEN,
    group_chat,
    member,
    wechat_member,
)
from bot.channels.wechat.render import render_text
from bot.messages import Channel, OutgoingMessage
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_wechat import FakeWeChat, WeChatPlatform, text_xml

_NUMBER = re.compile(r"工单已提交：(\d{4}-\d{4})")


def _starts(prefix: str) -> Callable[[str], bool]:
    return lambda text: text.startswith(prefix)


@dataclass
class Crowd:
    """What the people share: the platforms, the balancer, the questions, the tallies."""

    telegram: FakeTelegram
    wechat: FakeWeChat
    inbox: Inbox
    balancer: Balancer
    client: aiohttp.ClientSession
    questions: list[tuple[str, str]]
    secret: str
    outcome: Outcome
    platforms: dict[str, WeChatPlatform] = field(default_factory=dict)
    msg_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    progress: int = 0
    progressed: asyncio.Event = field(default_factory=asyncio.Event)
    asked_tags: list[str] = field(default_factory=list)

    @property
    def patience(self) -> float:
        """How long a person waits for an answer: what a killed process had taken waits for
        the outbox lease, and a person is that patient."""
        return self.outcome.plan.lease_s + ANSWER_WAIT_S

    async def exchange(
        self, chat: str, post: Callable[[], Awaitable[None]], wanted: Callable[[str], bool]
    ) -> Arrival:
        """Post one message and wait for its answer in ``chat``; the latency is noted.

        Raises:
            TimeoutError: No answer came within :attr:`patience` (it counts as lost).
        """
        since, started = self.inbox.mark(chat), time.monotonic()
        await post()
        try:
            arrival = await self.inbox.expect(chat, wanted, since, self.patience)
        except TimeoutError:
            came = [a.text[:40] for a in self.inbox.by_chat[chat][since:]]
            raise TimeoutError(f"{chat}: no answer came (only {came})") from None
        self.outcome.latencies.append(max(0.0, arrival.at - started))
        self.progress += 1
        self.progressed.set()
        return arrival

    async def card(self, number: str, tag: str) -> Arrival:
        """The card of request ``number`` in its group, as the commissioner sees it.

        Raises:
            TimeoutError: It never reached the group.
        """
        try:
            return await self.inbox.card(number, self.patience)
        except TimeoutError:
            raise TimeoutError(f"{tag}: the card of {number} never reached its group") from None

    async def telegram_update(self, update: dict[str, Any]) -> None:
        """Post ``update`` to the webhook; a method call in the response is delivered."""
        key = f"telegram:{update['update_id']}"

        async def attempt(node: Node) -> bool | None:
            async with self.client.post(
                f"{node.url}/telegram",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": self.secret},
            ) as response:
                if response.status != 200:
                    return None
                seen = time.monotonic()
                if response.content_type == "application/json":
                    call = await response.json()
                    if isinstance(call, dict) and call.get("method") == "sendMessage":
                        chat, text = str(call.get("chat_id")), str(call.get("text", ""))
                        self.inbox.add(Arrival(chat, text, seen, inbound=key))
                return True

        self.outcome.inbound += 1
        await self.balancer.forward(attempt)

    async def wechat_text(self, openid: str, text: str, **extra: Any) -> None:
        """``openid`` writes ``text`` (a new MsgId): see :meth:`wechat_message`."""
        msg_id = next(self.msg_ids)
        await self.wechat_message(text_xml(openid, text, msg_id, **extra), msg_id)

    async def wechat_message(self, xml: str, msg_id: int) -> None:
        """Post ``xml`` (whose MsgId is ``msg_id``) signed; a passive reply in the response is
        delivered."""
        key = f"wechat:{msg_id}"

        async def attempt(node: Node) -> bool | None:
            platform = self.platforms.setdefault(
                node.url,  # a restarted process listens on a port of its own
                WeChatPlatform(f"{node.url}/wechat", WECHAT_TOKEN, APP_ID, WECHAT_AES_KEY, "safe"),
            )
            posted = await platform.post(xml, session=self.client)
            if posted.status != 200:
                return None  # no answer in 5 s, or an error: WeChat posts it again
            if posted.reply is not None and posted.reply.get("MsgType") == "text":
                openid, text = str(posted.reply.get("ToUserName")), str(posted.reply["Content"])
                self.inbox.add(Arrival(openid, text, time.monotonic(), inbound=key))
            return True

        self.outcome.inbound += 1
        await self.balancer.forward(attempt)


class TelegramVoice:
    """An entrepreneur in a private chat with the bot on Telegram."""

    def __init__(self, crowd: Crowd, index: int) -> None:
        self._crowd, self._user = crowd, 600_000 + index
        self.chat, self.tag = str(self._user), f"T{index:05d}"

    async def choose(self, space: int) -> None:
        """Press the maker space's button."""
        update = self._crowd.telegram.callback(self._user, self._user, 1, f"space:s{space}")
        await self._crowd.telegram_update(update)

    async def say(self, text: str) -> None:
        """Send ``text``."""
        await self._crowd.telegram_update(self._crowd.telegram.private_message(self._user, text))

    def request(self, words: str) -> str:
        """The message that opens a request."""
        return f"/new {self.tag} {words}"

    def shown(self, text: str) -> str:
        """``text`` as the entrepreneur reads it."""
        return text


class WeChatVoice:
    """An entrepreneur writing to the Official Account."""

    def __init__(self, crowd: Crowd, index: int) -> None:
        self._crowd = crowd
        self.chat, self.tag = f"o-faults-user-{index:06d}", f"W{index:05d}"

    async def choose(self, space: int) -> None:
        """Tap the maker space's menu link."""
        await self._crowd.wechat_text(
            self.chat, f"第{space + 1}众创空间", bizmsgmenuid=f"space:s{space}"
        )

    async def say(self, text: str) -> None:
        """Send ``text``."""
        await self._crowd.wechat_text(self.chat, text)

    def request(self, words: str) -> str:
        """The message that opens a request (WeChat users type the command's words)."""
        return f"提交工单 {self.tag} {words}"

    def shown(self, text: str) -> str:
        """``text`` as the entrepreneur reads it: commands named by their words."""
        return render_text(OutgoingMessage(self.chat, Channel.WECHAT, text))


async def entrepreneur(crowd: Crowd, voice: TelegramVoice | WeChatVoice, index: int) -> None:
    """Pick a space, ask two questions; one in :data:`REQUEST_EVERY` then opens a request and
    gets its duty group's answer (a reply to the card, or ``#number`` from WeChat)."""
    space = index % SPACES
    await crowd.exchange(voice.chat, lambda: voice.choose(space), lambda _: True)
    for asked in (index, index + 7):
        question, expected = crowd.questions[asked % len(crowd.questions)]
        answered = _starts(voice.shown(expected)[:40])
        await crowd.exchange(voice.chat, partial(voice.say, question), answered)
    if index % REQUEST_EVERY:
        return
    crowd.asked_tags.append(voice.tag)
    confirmed = await crowd.exchange(
        voice.chat, lambda: voice.say(voice.request("想咨询场地租金减免需要哪些材料")),
        lambda text: "工单已提交" in text,
    )  # fmt: skip
    found = _NUMBER.search(confirmed.text)
    assert found, confirmed.text
    number, answer_text = found.group(1), f"答复{voice.tag}：请带营业执照原件到服务站"
    if (index // REQUEST_EVERY) % 4 == 1:
        msg_id = next(crowd.msg_ids)
        xml = text_xml(wechat_member(space), f"#{number} {answer_text}", msg_id)
        answer: Callable[[], Awaitable[None]] = lambda: crowd.wechat_message(xml, msg_id)  # noqa: E731
    else:
        card = await crowd.card(number, voice.tag)
        reply = crowd.telegram.group_message(
            group_chat(space), member(space, index % 2), answer_text,
            reply_to_message_id=card.message_id,
        )  # fmt: skip
        answer = lambda: crowd.telegram_update(reply)  # noqa: E731
    await crowd.exchange(voice.chat, answer, lambda text: f"答复{voice.tag}" in text)
