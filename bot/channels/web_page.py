"""The web chat's pages in the visitor's language: which language, and the page filled in.

The language is the visitor's choice on the page (``?lang=en``, kept in a cookie) or else the
browser's first ``Accept-Language``; the bot's replies follow the same choice, so the page and
the conversation never speak two languages.
"""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path

from aiohttp import web

from bot.messages import Language
from bot.texts.chat import PageTexts, page_texts_for

__all__ = ["LANGUAGE_COOKIE", "chat_page", "language_of", "page_shell"]

STATIC = Path(__file__).parent / "static"
LANGUAGE_COOKIE = "md_lang"


def language_of(request: web.Request) -> Language:
    """The visitor's language: ``?lang=``, then the cookie, then ``Accept-Language``."""
    chosen = request.query.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    if chosen in ("zh", "en"):
        return Language(chosen)
    accepted = request.headers.get("Accept-Language", "")
    return Language.from_code(accepted.split(",", 1)[0].strip() or None)


def chat_page(language: Language) -> str:
    """The chat page's HTML in ``language``."""
    return _chat_page(language)


@cache
def _chat_page(language: Language) -> str:
    texts = page_texts_for(language)
    quick = "".join(
        f'<button type="button" data-command="{_escape(command)}">{_escape(label)}</button>'
        for label, command in texts.quick_actions
    )
    # JSON inside <script>: "<" escaped, so no text can close the element.
    script = json.dumps(texts.script, ensure_ascii=False).replace("<", "\\u003c")
    fields = {
        "lang": texts.lang,
        "title": texts.title,
        "heading": texts.heading,
        "tagline": texts.tagline,
        "log_label": texts.log_label,
        "input_label": texts.input_label,
        "placeholder": texts.placeholder,
        "send": texts.send,
        "staff_link": texts.staff_link,
        "switch_label": texts.switch_label,
        "switch_lang": texts.switch_lang,
        "switch_code": texts.switch_code,
        "quick_label": texts.quick_label,
        "typing": texts.script["typing"],
    }
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    for name, value in fields.items():
        page = page.replace("{{" + name + "}}", _escape(value))
    return page.replace("{{quick}}", quick).replace("{{script}}", script)


def page_shell(texts: PageTexts, title: str, body: str) -> str:
    """A page of the chat's look around ``body`` (HTML, already escaped)."""
    return (
        f'<!doctype html>\n<html lang="{texts.lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_escape(title)} · {_escape(texts.title)}</title>\n"
        '<link rel="stylesheet" href="/static/style.css">\n</head>\n'
        f'<body class="thread">\n<header><div class="brand"><h1>{_escape(texts.heading)}</h1>'
        f"<p>{_escape(texts.tagline)}</p></div></header>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _escape(text: str) -> str:
    return html.escape(text, quote=True)
