"""Twin bots for the quick lane's tests: the same messages with and without the lane.

Two bots on two databases (SQLite files, or scratch PostgreSQL databases), built as
``python -m bot run`` builds them: the first with the quick lane, the second behind a
dispatcher that has none. Whatever either is told, the
replies and every row the lanes write must come out the same (:func:`stored`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Row, event, select

from bot.app import Bot, create_bot
from bot.clock import ManualClock
from bot.messages import IncomingMessage, Sender
from bot.routing import Dispatcher, InlinePolicy
from bot.settings import load_settings
from handlers import ROUTERS
from handlers.basics import unknown
from storage.models import (
    AnsweredQuestion,
    Base,
    Conversation,
    Counter,
    Identity,
    InboundKey,
    OutboxMessage,
    Person,
    Request,
    RequestEvent,
    UnansweredQuestion,
)
from tests.support.databases import scratch_postgres
from tests.support.desk import MONDAY, PLATFORMS

__all__ = ["Twins", "stored", "twin_bots"]

_TABLES: tuple[type[Base], ...] = (
    InboundKey,
    AnsweredQuestion,
    UnansweredQuestion,
    OutboxMessage,
    Request,
    RequestEvent,
    Person,
    Identity,
    Counter,
    Conversation,
)


@dataclass(frozen=True)
class Twins:
    """A bot with the quick lane, and one on its own database whose dispatcher has none."""

    quick: Bot
    full: Bot
    plain: Dispatcher
    """The full bot's dispatcher without the lane."""
    orm_statements: list[str]
    """Each statement the quick bot's ORM engine ran, so a test can tell which path took a
    message: the lane's units run on the writer's own connection."""

    @property
    def lane_units(self) -> int:
        """The units the quick bot's writer ran (those found not quick included)."""
        writer = self.quick.services.writer or self.quick.services.pg_writer
        assert writer is not None
        return writer.units

    @property
    def full_units(self) -> int:
        """The units the full bot's writer ran: none, since its dispatcher has no lane."""
        writer = self.full.services.writer or self.full.services.pg_writer
        assert writer is not None
        return writer.units

    async def both(
        self, sender: Sender, text: str, key: str, *, choice: str | None = None
    ) -> list[dict[str, object]]:
        """Both bots get the same message a second later: the replies, the same from both."""
        answers = []
        for bot, dispatcher in ((self.quick, self.quick.dispatcher), (self.full, self.plain)):
            assert isinstance(bot.clock, ManualClock)
            bot.clock.advance(timedelta(seconds=1))
            message = IncomingMessage(
                sender, sender.user_id, text, key, bot.clock.now(), choice=choice
            )
            handed = await dispatcher.handle(message, inline=InlinePolicy())
            answers.append([reply.to_payload() for reply in handed])
        quick, full = answers
        assert quick == full, (sender, text)
        return quick


@contextlib.asynccontextmanager
async def twin_bots(
    tmp_path: Path, faq_dir: Path, roster_text: str, postgres_server: str | None = None
) -> AsyncIterator[Twins]:
    """The twins on ``roster_text``, each on a database of its own.

    SQLite files in ``tmp_path``, or scratch databases on ``postgres_server`` when given.
    """
    roster = tmp_path / "roster.yaml"
    roster.write_text(roster_text, encoding="utf-8")
    bots = []
    async with contextlib.AsyncExitStack() as stack:
        for name in ("quick", "full"):
            url = f"sqlite+aiosqlite:///{tmp_path / name}.db"
            if postgres_server is not None:
                url = await stack.enter_async_context(
                    scratch_postgres(postgres_server, migrated=True)
                )
            settings = load_settings(
                knowledge_dir=faq_dir, roster=roster, database_url=url, **PLATFORMS
            )
            bot = await create_bot(settings, ManualClock(MONDAY))
            stack.push_async_callback(bot.close)
            bots.append(bot)
        quick, full = bots
        plain = Dispatcher(full.services, fallback=unknown)
        plain.include(*ROUTERS)
        statements: list[str] = []

        def ran(*args: Any) -> None:
            statements.append(args[2])

        engine = quick.database.engine.sync_engine
        event.listen(engine, "before_cursor_execute", ran)
        stack.callback(event.remove, engine, "before_cursor_execute", ran)
        yield Twins(quick, full, plain, statements)


async def stored(bot: Bot) -> dict[str, list[Row[Any]]]:
    """Every row of the tables the lanes write, each table in its key's order.

    Rows compare as tuples and read by column name (``row.text``).
    """
    async with bot.database.sessions() as session:
        return {
            model.__tablename__: [
                row
                for row in await session.execute(
                    select(*model.__table__.columns).order_by(*model.__table__.primary_key)
                )
            ]
            for model in _TABLES
        }
