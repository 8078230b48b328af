"""App messages to WeCom members: the outbox's way to WeCom (the :class:`~bot.delivery.Deliverer`).

WeCom has no window like WeChat's 48 hours: an app may message any member in its visible range
at any time. What it refuses is mapped onto the delivery contract: an invalid or expired token
is retried at once by the client; WeCom busy, over a rate limit, or refusing a configuration an
admin can fix (trusted IP, secret) is retried with backoff; a member outside the app's visible
range, or a message WeCom cannot take, fails for good and the duty group is told.
"""

from __future__ import annotations

from datetime import timedelta

from bot.channels.wechat.render import TEXT_LIMIT, split_text
from bot.channels.wecom.api import TOKEN_ERRORS, WeComApi, WeComApiError
from bot.channels.wecom.media import WeComFiles
from bot.delivery import Delivered, DeliveryError
from bot.messages import OutgoingMessage
from bot.texts.chat import texts_for

__all__ = ["FINAL_ERRORS", "RETRIED_ERRORS", "WeComPush"]

RETRIED_ERRORS = frozenset({-1, 40001, 40013, 40091, 45009, 45033, 48002, 60020, *TOKEN_ERRORS})
"""Busy (-1), over a rate or concurrency limit (45009, 45033), or a setting an admin can fix:
the secret or CorpID (40001, 40013, 40091), the app's API rights (48002), the trusted IP
(60020). Tried again later; every other code fails the message for good."""
FINAL_ERRORS = {
    81013: "收件人不在应用可见范围内（81013）",
    40056: "BOT_WECOM_AGENT_ID 不对（40056）",
}
"""The codes whose reason is worth saying in words; others fail with WeCom's own."""
_NOT_REACHED = "收件人不在应用可见范围内"


class WeComPush:
    """Sends the outbox's WeCom messages as app messages to one member each."""

    def __init__(self, api: WeComApi, files: WeComFiles | None = None) -> None:
        """Send through ``api``; ``files`` uploads and sends carried files after the text."""
        self.api = api
        self.files = files

    async def deliver(self, message: OutgoingMessage) -> Delivered:
        """Send ``message``'s text to the member ``message.chat_id``, in parts if long.

        Raises:
            DeliveryError: ``final`` when WeCom cannot ever take it; plain for trouble that
                passes.
        """
        if message.edit is not None or message.edit_card:
            return Delivered(None)  # cards and their updates come with the duty group's flow
        sent: str | None = None
        for part in split_text(_text(message), TEXT_LIMIT):
            try:
                answer = await self.api.send_text(message.chat_id, part)
            except WeComApiError as error:
                raise _refused(error) from None
            if message.chat_id in str(answer.get("invaliduser", "")).split("|"):
                raise DeliveryError(_NOT_REACHED, final=True)
            sent = sent or str(answer.get("msgid") or "") or None
        if self.files is not None:
            try:
                await self.files.send_files(message)
            except WeComApiError as error:
                raise _refused(error) from None
        return Delivered(sent)

    async def close(self) -> None:
        """Close the API's connections."""
        await self.api.close()


def _text(message: OutgoingMessage) -> str:
    """The text as a WeCom member reads it: the words, then the source they rest on."""
    if not message.source:
        return message.text
    source = texts_for(message.language).source.format(source=message.source)
    return f"{message.text}\n\n{source}"


def _refused(error: WeComApiError) -> DeliveryError:
    """The delivery error for WeCom's refusal: tried again, or failed for good."""
    code = error.code
    if code is None:
        return DeliveryError(error.message)  # network trouble: try again
    if code in (45009, 45033):
        return DeliveryError(f"{code}: {error.message}", retry_after=timedelta(minutes=1))
    if code in RETRIED_ERRORS:
        return DeliveryError(f"{code}: {error.message}")
    return DeliveryError(FINAL_ERRORS.get(code, f"{code}: {error.message}"), final=True)
