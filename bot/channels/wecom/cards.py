"""A request's card as a WeCom template card (``button_interaction``), within WeCom's limits.

The desk writes a card as lines of text (:func:`bot.desk.compose.card_text`): a title, then
``名称：内容`` fields, some joined by ``｜`` on one line. On WeCom the title is the card's main
title, each short field a row of its ``horizontal_content_list`` (status, assignee, due date),
and what is too long for a row (the request's text) its sub-title. The buttons carry their
choice as the button's ``key``, which WeCom sends back in the ``template_card_event``.

Every card sent or redrawn gets a new ``task_id`` naming its request (:func:`task_id`), so a
press's response code can be kept for that request's card (:func:`request_of_task`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import Any

from bot.messages import Button

__all__ = ["BUTTONS", "render", "request_of_task", "task_id"]

TITLE = 36
"""Characters of the main title WeCom shows (its advice: at most 36)."""
SUB_TITLE = 112
ROWS = 6
"""Rows of ``horizontal_content_list`` a card may have."""
KEYNAME = 5
VALUE = 26
BUTTONS = 6
"""Buttons a ``button_interaction`` card may have."""
BUTTON_TEXT = 10
_FIELD = re.compile(r"^(?P<name>[^：:]{1,16})[：:](?P<value>.+)$", re.DOTALL)
_TASK = re.compile(r"^r(?P<request>[0-9]{1,18})-[0-9a-f]{16}$")


def task_id(request_id: int) -> str:
    """A new ``task_id`` for a card of request ``request_id`` (WeCom wants each unique)."""
    return f"r{request_id}-{secrets.token_hex(8)}"


def request_of_task(task: str) -> int | None:
    """The request a card's ``task_id`` names; ``None`` for one the bot did not make."""
    found = _TASK.match(task)
    return int(found["request"]) if found else None


def render(text: str, buttons: Sequence[Button], task: str) -> dict[str, Any]:
    """The ``template_card`` for a card's ``text`` and ``buttons``, with the ``task`` id."""
    title, *lines = [line.strip() for line in text.strip().splitlines()] or [""]
    rows: list[dict[str, str]] = []
    rest: list[str] = []
    for line in lines:
        for part in (p.strip() for p in line.split("｜")):
            found = _FIELD.match(part)
            short = found and len(found["name"]) <= KEYNAME and len(found["value"]) <= VALUE
            if found and short and len(rows) < ROWS:
                rows.append({"keyname": found["name"], "value": found["value"]})
            elif part:
                rest.append(part)
    card: dict[str, Any] = {
        "card_type": "button_interaction",
        "main_title": {"title": _cut(title.removeprefix("📋").strip(), TITLE)},
        "task_id": task,
        "button_list": [
            {"text": _cut(b.label, BUTTON_TEXT), "style": 1 if n == 0 else 2, "key": b.payload}
            for n, b in enumerate(buttons[:BUTTONS])
        ],
    }
    if rest:
        card["sub_title_text"] = _cut("\n".join(rest), SUB_TITLE)
    if rows:
        card["horizontal_content_list"] = rows
    if not buttons:
        # A card without moves left (resolved, transferred away) still needs a button: one
        # that says so and does nothing the desk would take.
        card["button_list"] = [{"text": "—", "style": 2, "key": f"noop:{task}"}]
    return card


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
