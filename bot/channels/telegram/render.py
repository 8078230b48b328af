"""How an outgoing message looks on Telegram: its text with the source line, its keyboard."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.messages import Button, OutgoingMessage
from bot.texts.chat import texts_for

__all__ = ["keyboard", "rendered"]

SHORT_LABEL = 6
ROW_WIDTH = 3
"""Buttons with labels up to ``SHORT_LABEL`` characters share rows of ``ROW_WIDTH``."""


def rendered(message: OutgoingMessage) -> tuple[str, InlineKeyboardMarkup | None]:
    """The text as Telegram shows it (with the source line) and the keyboard under it."""
    text = message.text
    if message.source:
        source = texts_for(message.language).source.format(source=message.source)
        text = f"{text}\n\n{source}"
    return text, keyboard(message.buttons)


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """Buttons as rows: short labels (stars, card moves) share a row, long ones get their own."""
    if not buttons:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    row: list[InlineKeyboardButton] = []
    for button in buttons:
        key = InlineKeyboardButton(button.label, callback_data=button.payload)
        if len(button.label) > SHORT_LABEL:
            if row:
                rows.append(row)
                row = []
            rows.append([key])
            continue
        row.append(key)
        if len(row) == ROW_WIDTH:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return InlineKeyboardMarkup(rows)
