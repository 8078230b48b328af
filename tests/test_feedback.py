"""👍/👎 under answers, through the real dispatcher and a real database (SQLite and PostgreSQL).

Every answer from the knowledge base is kept with the question as asked; the buttons under it
name that record; a press rates it (the last press wins), from the answer's own chat only.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import func, select

from bot.app import Bot
from bot.clock import ManualClock
from bot.messages import Channel, IncomingMessage, Language, OutgoingMessage, Sender
from bot.routing import InlinePolicy
from bot.texts.chat import EN, ZH
from storage.models import AnsweredQuestion, UnansweredQuestion

ASKER = Sender(Channel.WEB, "e1", "小陈")
OTHER = Sender(Channel.WEB, "e2", "小王")
SAME_ID_ELSEWHERE = Sender(Channel.TELEGRAM, "e1", "小陈")
"""The same user id on another channel is another chat."""
QUESTION = "服务专员多久回复"
"""Answered outright from the test knowledge base (entry ``reply-deadline``)."""
VAGUE = "小组"
"""Only near enough to ``group-size`` to be suggested."""

_keys = itertools.count()


def incoming(
    bot: Bot, sender: Sender, text: str = "", *, choice: str | None = None
) -> IncomingMessage:
    key = f"feedback:{next(_keys)}"
    return IncomingMessage(sender, sender.user_id, text, key, bot.clock.now(), choice=choice)


async def say(
    bot: Bot, sender: Sender, text: str = "", *, choice: str | None = None
) -> list[OutgoingMessage]:
    return await bot.dispatcher.handle(
        incoming(bot, sender, text, choice=choice), inline=InlinePolicy()
    )


async def kept(bot: Bot) -> list[AnsweredQuestion]:
    async with bot.database.sessions() as session:
        return list(await session.scalars(select(AnsweredQuestion).order_by(AnsweredQuestion.id)))


def thumbs(reply: OutgoingMessage) -> tuple[str, str]:
    """The payloads of 👍 and 👎 under ``reply`` (fails unless those are its buttons)."""
    assert [b.label for b in reply.buttons] == [ZH.helpful_button, ZH.unhelpful_button]
    up, down = (b.payload for b in reply.buttons)
    return up, down


async def test_an_answer_is_kept_and_its_thumbs_name_it(bot: tuple[Bot, ManualClock]) -> None:
    running, clock = bot
    (answer,) = await say(running, ASKER, QUESTION)
    assert answer.faq_id == "reply-deadline"
    (row,) = await kept(running)
    assert thumbs(answer) == (f"rate:{row.id}:up", f"rate:{row.id}:down")
    assert (row.channel, row.chat_id, row.text, row.faq_id) == (
        "web",
        "e1",
        QUESTION,
        "reply-deadline",
    )
    assert row.answered_at == clock.now()
    assert row.score is not None
    assert row.score > 0
    assert (row.rating, row.rated_at, row.picked) == (None, None, False)


async def test_thumbs_down_is_kept_and_offers_a_commissioner_and_a_later_press_wins(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    (answer,) = await say(running, ASKER, QUESTION)
    up, down = thumbs(answer)
    (thanks,) = await say(running, ASKER, choice=down)
    assert thanks.text == ZH.rated_unhelpful
    assert [(b.label, b.payload) for b in thanks.buttons] == [(ZH.submit_button, "request:new")]
    (row,) = await kept(running)
    assert (row.rating, row.rated_at) == ("down", clock.now())

    clock.advance(timedelta(minutes=3))
    (thanks,) = await say(running, ASKER, choice=up)
    assert (thanks.text, thanks.buttons) == (ZH.rated_helpful, ())
    (row,) = await kept(running)  # changed, not a second row
    assert (row.rating, row.rated_at) == ("up", clock.now())
    await say(running, ASKER, choice=down)
    assert [r.rating for r in await kept(running)] == ["down"]


async def test_a_press_from_another_chat_is_refused_and_changes_nothing(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    (answer,) = await say(running, ASKER, QUESTION)
    up, down = thumbs(answer)
    await say(running, ASKER, choice=up)
    for stranger in (OTHER, SAME_ID_ELSEWHERE):
        (refusal,) = await say(running, stranger, choice=down)
        assert (refusal.text, refusal.chat_id) == (ZH.rating_not_yours, stranger.user_id)
    (row,) = await kept(running)
    assert row.rating == "up"


async def test_an_unknown_or_garbled_rating_gets_a_plain_answer(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    await say(running, ASKER, QUESTION)
    # 99999999999 is beyond PostgreSQL's integer ids: refused as unknown, not a database error.
    for payload in ("rate:424242:down", "rate:99999999999:up", "rate:x:up", "rate:1:maybe"):
        (reply,) = await say(running, ASKER, choice=payload)
        assert reply.text == ZH.rating_unknown, payload
    assert [r.rating for r in await kept(running)] == [None]


async def test_a_redelivered_question_or_press_is_kept_once(bot: tuple[Bot, ManualClock]) -> None:
    running, _ = bot
    question = incoming(running, ASKER, QUESTION)
    (first,) = await running.dispatcher.handle(question, inline=InlinePolicy())
    (again,) = await running.dispatcher.handle(question, inline=InlinePolicy())
    assert again.buttons == first.buttons  # the same answer, naming the same record
    _, down = thumbs(first)
    press = incoming(running, ASKER, choice=down)
    await running.dispatcher.handle(press, inline=InlinePolicy())
    await running.dispatcher.handle(press, inline=InlinePolicy())
    async with running.database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AnsweredQuestion)) == 1
    assert [r.rating for r in await kept(running)] == ["down"]


async def test_a_picked_suggestion_is_kept_with_the_question_as_asked(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    (suggested,) = await say(running, ASKER, VAGUE)
    assert suggested.text.startswith(ZH.suggest_intro)
    async with running.database.sessions() as session:
        asked = await session.scalar(select(UnansweredQuestion))
    assert asked is not None
    assert asked.text == VAGUE
    pick = suggested.buttons[0].payload
    assert pick == f"faq:group-size:{asked.id}"
    (answer,) = await say(running, ASKER, choice=pick)
    assert answer.faq_id == "group-size"
    (row,) = await kept(running)
    assert thumbs(answer) == (f"rate:{row.id}:up", f"rate:{row.id}:down")
    assert (row.text, row.faq_id, row.picked) == (VAGUE, "group-size", True)
    assert row.score is not None
    assert row.score > 0
    # A button from before suggestions carried their question: the entry's own question.
    (older,) = await say(running, ASKER, choice="faq:group-size")
    row = (await kept(running))[-1]
    assert (row.text, row.score, row.picked) == ("服务小组有几个人？", None, True)
    assert thumbs(older) == (f"rate:{row.id}:up", f"rate:{row.id}:down")


async def test_english_users_rate_in_english(bot: tuple[Bot, ManualClock]) -> None:
    running, _ = bot
    english = Sender(Channel.TELEGRAM, "7001", "Ann", Language.EN)
    (answer,) = await say(running, english, "how long until the commissioners reply")
    assert [b.label for b in answer.buttons] == [EN.helpful_button, EN.unhelpful_button]
    (thanks,) = await say(running, english, choice=answer.buttons[1].payload)
    assert thanks.text == EN.rated_unhelpful
    assert [b.label for b in thanks.buttons] == [EN.submit_button]


async def test_a_suggestion_gone_in_a_reload_asks_for_the_question_again(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    (suggested,) = await say(running, ASKER, VAGUE)
    picked = suggested.buttons[0].payload
    assert picked.startswith("faq:group-size")
    gone = picked.replace("group-size", "no-longer-there")
    (answer,) = await say(running, ASKER, choice=gone)
    assert answer.text == ZH.suggestion_gone
    assert await kept(running) == []  # nothing was answered, so nothing to rate
