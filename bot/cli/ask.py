"""``python -m bot ask``: answer questions as the bot would, as text or JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import TextIO

from bot.cli.kb import load_knowledge
from bot.clock import SystemClock
from bot.domain.workdays import shanghai_date
from bot.messages import Language
from bot.settings import Settings
from bot.texts.chat import texts_for
from handlers.faq import Reply, answer_question, language_of
from knowledge.service import KnowledgeBase

__all__ = ["ask"]


def ask(args: argparse.Namespace, settings: Settings) -> int:
    """Answer the questions given, or one a line from stdin."""
    base = load_knowledge(settings.knowledge_dir)
    if base is None:
        return 1
    language = Language(args.lang)
    questions: Iterable[str] = [" ".join(args.question)] if args.question else _lines(sys.stdin)
    for question in questions:
        _print_answer(base, question, language, args.json, sys.stdout)
    return 0


def _lines(stream: TextIO) -> Iterable[str]:
    for line in stream:
        if line.strip():
            yield line.rstrip("\n")


def _print_answer(
    base: KnowledgeBase, question: str, language: Language, as_json: bool, out: TextIO
) -> None:
    language = language_of(question, language)
    today = shanghai_date(SystemClock().now())
    answer = answer_question(base, question, language, today)
    result = answer.result
    if as_json:
        record = {
            "q": question,
            "matched": answer.faq_id is not None,
            "kind": answer.kind.value,
            "language": language.value,
            "faq_id": answer.faq_id,
            "score": result.best.score if result.best else 0.0,
            "answer": answer.text,
            "source": answer.source,
            "suggestions": (
                []
                if answer.faq_id
                else [
                    {"faq_id": m.entry.id, "question": m.entry.question, "score": m.score}
                    for m in result.matches
                ]
            ),
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        # What the chats offer as buttons, the terminal lists, under the question's first line.
        first, _, rest = answer.text.partition("\n")
        out.write(first + "\n")
        if answer.kind is Reply.SUGGESTED:
            for n, match in enumerate(result.matches, 1):
                out.write(f"  {n}. {match.entry.question}\n")
        if rest:
            out.write(rest + "\n")
        if answer.source:
            out.write(texts_for(language).source.format(source=answer.source) + "\n")
        out.write("\n")
    out.flush()
