"""Tables. Every timestamp is stored in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.domain.lifecycle import Status

__all__ = [
    "MAX_INTEGER",
    "Alert",
    "AnsweredQuestion",
    "Base",
    "Card",
    "ConsoleSession",
    "ConsoleToken",
    "Conversation",
    "Counter",
    "Identity",
    "InboundKey",
    "JobRun",
    "MadeFile",
    "MadeFileStatus",
    "Notice",
    "OutboxMessage",
    "OutboxStatus",
    "Pause",
    "Person",
    "PushWindow",
    "Request",
    "RequestEvent",
    "SigningKey",
    "UnansweredQuestion",
    "UtcDateTime",
    "WeChatNonce",
    "WeComCardCode",
    "stored_as_value",
]


MAX_INTEGER = 2**31 - 1
"""The largest id an ``Integer`` column holds on PostgreSQL; a larger one names no row."""


def stored_as_value(statuses: type[StrEnum]) -> Enum:
    """A column type for ``statuses`` that stores each one's value in a ``VARCHAR(16)``.

    No database enum type and no check constraint: a new status needs no migration, and a
    value the enum does not know is refused when it is written.
    """
    return Enum(
        statuses,
        native_enum=False,
        create_constraint=False,
        length=16,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and read back timezone-aware on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive times; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """SQLite forgets the zone; every stored time is UTC, so say so."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""


class UnansweredQuestion(Base):
    """A question the bot did not answer outright: the admins' list of FAQ entries to write."""

    __tablename__ = "unanswered_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asked_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    chat_id: Mapped[str | None] = mapped_column(String(128))
    """The conversation it was asked in; only a press from there may carry it into a request
    (``None`` for questions kept before migration 0015, which are never carried)."""
    text: Mapped[str] = mapped_column(Text, nullable=False)
    band: Mapped[str] = mapped_column(String(16), nullable=False)
    """``suggest`` (low confidence) or ``none`` (no match)."""
    best_faq_id: Mapped[str | None] = mapped_column(String(128))
    best_score: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)

    __table_args__ = (Index("ix_unanswered_questions_asked_at", "asked_at"),)


class AnsweredQuestion(Base):
    """A question the bot answered from the knowledge base, and how the asker rated the answer.

    Answers rated 👎 are gaps too: the entry did not answer what was asked.
    """

    __tablename__ = "answered_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    chat_id: Mapped[str] = mapped_column(String(128), nullable=False)
    """The conversation answered; only a press from there may rate the answer."""
    text: Mapped[str] = mapped_column(Text, nullable=False)
    """The question as asked (for a picked suggestion, the entry's question if the original
    question did not travel with the button)."""
    faq_id: Mapped[str] = mapped_column(String(128), nullable=False)
    score: Mapped[float | None] = mapped_column(Float)
    """The entry's match score for ``text``; unknown for a suggestion picked without it."""
    picked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    """Answered because the asker picked it among suggestions."""
    rating: Mapped[str | None] = mapped_column(String(8))
    """``up`` (👍) or ``down`` (👎): the asker's last press; ``None`` until they press one."""
    rated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_answered_questions_answered_at", "answered_at"),)


class Person(Base):
    """Someone who writes to the bot; the same person may have identities on several channels.

    A caller whose request a member recorded (by phone or at the desk) is a person without any
    identity: known by the name they gave, reachable only by the phone number on the request.
    """

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    display_name: Mapped[str | None] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(8), nullable=False, default="zh")
    space_id: Mapped[str | None] = mapped_column(String(64))
    """The maker space they work in, as the roster names it; asked once, changed with /space."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class Identity(Base):
    """A person's account on one channel, and the chat that reaches them there."""

    __tablename__ = "identities"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), nullable=False, index=True)
    chat_id: Mapped[str] = mapped_column(String(128), nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class Counter(Base):
    """Named counters, e.g. the request numbers of one year (``request-2026``)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, nullable=False)


class Request(Base):
    """A service request (工单) from an entrepreneur to a duty group."""

    __tablename__ = "requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    """What people say and type: ``2026-0042``."""
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), nullable=False, index=True)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    """How it came in (:class:`bot.messages.Intake`): a chat channel, where replies go back,
    or ``hotline``/``visit``, a call or a visit a member recorded, with no chat at all."""
    chat_id: Mapped[str] = mapped_column(String(128), nullable=False)
    """The chat replies go to; empty for a call or a visit."""
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    phone: Mapped[str | None] = mapped_column(String(32))
    space_id: Mapped[str] = mapped_column(String(64), nullable=False)
    group_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    assignee: Mapped[str | None] = mapped_column(String(160))
    """The claiming commissioner as ``channel:user_id``."""
    assignee_name: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[Status] = mapped_column(
        # The value in a VARCHAR(16), as before the enum: no type or constraint to migrate.
        stored_as_value(Status),
        nullable=False,
        index=True,
    )
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    due_date: Mapped[date] = mapped_column(Date, nullable=False)
    """Shanghai date; the deadline is 24:00 of it."""
    deadline: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, index=True)
    provisional: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    """The due date rests on an estimated calendar year (shown as "预计")."""
    first_reply_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    result: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        Index("ix_requests_status_deadline", "status", "deadline"),
        # Few requests are provisional at any time (those dated into an unknown year); the
        # scheduler looks for them every round.
        Index("ix_requests_provisional_status", "provisional", "status"),
    )


class Pause(Base):
    """A stretch in which the deadline clock stood still (waiting on the entrepreneur)."""

    __tablename__ = "request_pauses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), nullable=False, index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RequestEvent(Base):
    """Append-only log of everything that happened to a request; reports count from here."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), nullable=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    actor: Mapped[str] = mapped_column(String(160), nullable=False)
    """``entrepreneur``, ``system`` or a commissioner as ``channel:user_id``."""
    text: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, object] | None] = mapped_column(JSON)

    __table_args__ = (
        # Each log in the order it is replayed: the quarterly report reads millions of events
        # this way without a sort; request_id alone (the foreign key) is served by it too.
        Index("ix_request_events_request_id_at", "request_id", "at", "id"),
    )


class OutboxStatus(StrEnum):
    """Where an outbox row stands; stored as its value."""

    PENDING = "pending"
    """Waits for the sender, due at ``next_attempt_at``."""
    HANDED_BACK = "handed_back"
    """Went back in the HTTP response to the message it answers (WeChat's passive reply,
    Telegram's webhook answer, the web chat's): the sender never takes it, and a redelivery of
    that message gets it again."""
    SENT = "sent"
    """The sender delivered it (or the page fetched it, for a channel the client polls)."""
    HELD = "held"
    """The platform refuses pushes to the user for now; it waits for them to write again."""
    WAITING = "waiting"
    """Waits for the files it carries to be made (:class:`MadeFile`); then ``pending``."""
    FAILED = "failed"
    """Undeliverable; kept with the reason."""


class OutboxMessage(Base):
    """A message to deliver, written in the transaction that caused it."""

    __tablename__ = "outbox"

    # One row per message in and out: PostgreSQL's int4 would run out; SQLite's INTEGER key is
    # 64 bits already and must stay INTEGER to number rows by itself.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    chat_id: Mapped[str] = mapped_column(String(128), nullable=False)
    payload: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    inbound_key: Mapped[str | None] = mapped_column(String(200), index=True)
    """The incoming message this answers, so a redelivered message gets the same answer."""
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"))
    status: Mapped[OutboxStatus] = mapped_column(
        # The value in a VARCHAR(16), as before the enum: no type or constraint to migrate.
        stored_as_value(OutboxStatus),
        nullable=False,
        default=OutboxStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_chat", "channel", "chat_id", "id"),
    )


class MadeFileStatus(StrEnum):
    """Where the making of a file stands; stored as its value."""

    QUEUED = "queued"
    """To be made, due at ``next_attempt_at`` (a maker's lease while it makes it)."""
    MADE = "made"
    """Made: the bytes are in ``content``, and the message that carries it may go."""
    FAILED = "failed"
    """Could not be made after every attempt; the message went as a note saying so."""


class MadeFile(Base):
    """A file the bot makes for an outbox message (a quarterly report), a job of its own.

    The message waits (:attr:`OutboxStatus.WAITING`) until each of its files is made, so the
    sender only ever sends bytes that are already here.
    """

    __tablename__ = "made_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("outbox.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    message: Mapped[OutboxMessage] = relationship(lazy="raise")
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    """Which of the message's attachments it is."""
    spec: Mapped[str] = mapped_column(String(200), nullable=False)
    """What to make: ``report:2026Q4:pdf:baodi``."""
    status: Mapped[MadeFileStatus] = mapped_column(
        stored_as_value(MadeFileStatus),
        nullable=False,
        default=MadeFileStatus.QUEUED,
    )
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    made_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    name: Mapped[str | None] = mapped_column(String(200))
    media_type: Mapped[str | None] = mapped_column(String(100))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_made_files_due", "status", "next_attempt_at"),)


class TranscriptLine(Base):
    """What a web chat visitor wrote, as their page showed it: their half of the transcript.

    The bot's half is the outbox rows to the same chat; the two together are the conversation a
    reload or another tab shows again. ``key`` is the message's dedup key, so a message sent
    twice (a retry after a lost response) is one line.
    """

    __tablename__ = "transcript_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    chat_id: Mapped[str] = mapped_column(String(128), nullable=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    choice: Mapped[str | None] = mapped_column(String(200))
    """The payload of the button pressed, if the line is a press: the page disables that
    button's row again after a reload."""

    __table_args__ = (
        Index("ix_transcript_lines_chat", "channel", "chat_id", "at"),
        Index("ix_transcript_lines_at", "at"),
    )


class InboundKey(Base):
    """An incoming delivery already handled (Telegram ``update_id``, WeChat ``MsgId``…)."""

    __tablename__ = "inbound_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (Index("ix_inbound_keys_received_at", "received_at"),)


class Notice(Base):
    """A reminder or escalation sent: at most one per request, kind and day."""

    __tablename__ = "notices"

    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class Card(Base):
    """A bot message in a group chat that stands for a request; replies to it answer it."""

    __tablename__ = "cards"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class Conversation(Base):
    """Where a user is in a multi-step conversation (request intake), kept across restarts."""

    __tablename__ = "conversations"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    step: Mapped[str] = mapped_column(String(32), nullable=False)
    data: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (Index("ix_conversations_updated_at", "updated_at"),)


class ConsoleToken(Base):
    """A one-time sign-in link for the commissioners' web console (only its hash is kept)."""

    __tablename__ = "console_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person: Mapped[str] = mapped_column(String(160), nullable=False)
    """The roster person as ``channel:user_id``."""
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ConsoleSession(Base):
    """A signed-in browser of the commissioners' console (only the cookie's hash is kept)."""

    __tablename__ = "console_sessions"

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person: Mapped[str] = mapped_column(String(160), nullable=False)
    """The roster person as ``channel:user_id``."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class Alert(Base):
    """An alert to the admins that concerns no single request, sent once per kind and subject.

    For instance ``calendar-unknown`` / ``2027``: due dates that rest on an estimated year.
    """

    __tablename__ = "alerts"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class PushWindow(Base):
    """When the platform lets the bot push to a user unasked, and how often (WeChat's rules).

    WeChat takes customer-service messages only within 48 hours of the user's last message, a
    few per message; a menu click, a follow or a scan opens a short window of its own.
    """

    __tablename__ = "push_windows"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    message_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """The user's last message."""
    message_quota: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    """Pushes left since that message."""
    event_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """The user's last menu click, follow or scan."""
    event_quota: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    """Pushes left since that event."""
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When the user was last told (by template message) that a reply waits for them."""
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """The user unfollowed the account: nothing more is pushed until they follow again."""


class WeChatNonce(Base):
    """A ``(timestamp, nonce)`` WeChat (or WeCom) signed a request with, and the body it came with.

    WeChat's ``signature`` covers the timestamp and nonce only, so the pair is what a replay
    reuses: a second request with the pair is handled only if it brings the very same body
    (WeChat's own retry). Rows older than the channel's signature window can go: a request that
    old is refused for its timestamp alone.
    """

    __tablename__ = "wechat_nonces"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True, server_default="wechat")
    """The channel that signed the pair (``wechat``, ``wecom``): each has pairs of its own."""
    timestamp: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    """The signed ``timestamp``: seconds since the epoch (UTC), as WeChat sent it."""
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    """SHA-256 (hex) of the body posted with the pair, or a marker for the GET URL check."""


class SigningKey(Base):
    """A secret the processes share, made once by the first to need it (the web chat's cookies).

    It signs what the server hands out so that it can tell its own from a value a client made
    up; it opens nothing by itself (a web chat visitor is known by the hash of the random part).
    """

    __tablename__ = "signing_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class JobRun(Base):
    """When a periodic job (retention) last ran, so one process of several runs it each time."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(32), primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class WeComCardCode(Base):
    """A ``response_code`` WeCom gave for a member's copy of a request's card.

    WeCom updates a template card already sent only with such a code: one from the answer that
    sent the card, or from the member's press of one of its buttons (``template_card_event``).
    Each serves one update, within 72 hours of its issue; a row is deleted when it is used.
    """

    __tablename__ = "wecom_card_codes"

    code: Mapped[str] = mapped_column(String(128), primary_key=True)
    userid: Mapped[str] = mapped_column(String(128), nullable=False)
    """The member whose copy of the card it updates (their WeCom UserID)."""
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), nullable=False)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (Index("ix_wecom_card_codes_member", "userid", "request_id", "issued_at"),)
