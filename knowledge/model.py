"""What the knowledge base is made of."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = ["Asks", "English", "FaqEntry", "Fault", "Phrasing"]


class Asks(StrEnum):
    """What a question asks for, and what an entry's answer states.

    An entry lists the kinds its answer states (``answers:`` in its file); a question that asks
    for a kind the matched entry does not state gets that said plainly instead of the answer.
    """

    WHAT = "what"
    """A definition or description: 是什么, what is."""
    WHO = "who"
    """A body or a person: 谁, 哪个部门, who."""
    WHEN = "when"
    """A date or a time: 什么时候, 哪年, when."""
    WHERE = "where"
    """A place or an address: 哪里, 在哪, where."""
    HOW = "how"
    """Steps or a way: 怎么, 如何, 流程, how do I."""
    HOW_LONG = "how-long"
    """A duration or a deadline: 多久, 几天, how long."""
    HOW_MUCH = "how-much"
    """An amount, a rate, a share or a penalty: 多少钱, 利率, 比例, 罚款, how much."""
    CONDITIONS = "conditions"
    """Who qualifies or what is required: 条件, 资格, 材料, requirements."""
    WHICH = "which"
    """A list to choose from: 哪些, which."""
    WHETHER = "whether"
    """Yes or no: 有没有, 能不能, 可以吗, is there, can I."""
    WHY = "why"
    """A reason or a purpose: 为什么, 目的, why."""


@dataclass(frozen=True, slots=True)
class Phrasing:
    """One way of asking an entry's question, with where it is written."""

    text: str
    line: int


@dataclass(frozen=True, slots=True)
class English:
    """An entry's English side: how English speakers ask it and what they are told."""

    question: Phrasing
    variants: tuple[Phrasing, ...]
    answer: str


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """One question and its sourced answer.

    Attributes:
        id: Unique, stable, kebab-case name.
        question: The standard phrasing, shown as a suggestion.
        variants: Other ways people ask it.
        answer: The answer text, as the bot sends it.
        source: The policy article the answer rests on.
        category: Topic, for reports and browsing.
        answers: What kinds of question the answer states (empty: not declared).
        silent: The entry tells what the policies do not provide (房租补贴, 落户): its answer
            is given as "not stated", with the offer to ask a commissioner.
        english: The English question, variants and answer, where written.
        file: The YAML file it was read from.
        line: Line of the entry in that file (1-based).
        question_line: Line of the ``question`` field.
    """

    id: str
    question: str
    variants: tuple[Phrasing, ...]
    answer: str
    source: str
    category: str
    file: Path
    line: int
    question_line: int
    answers: frozenset[Asks] = frozenset()
    english: English | None = None
    silent: bool = False

    @property
    def phrasings(self) -> tuple[Phrasing, ...]:
        """The question followed by its variants, then the English ones."""
        chinese = (Phrasing(self.question, self.question_line), *self.variants)
        if self.english is None:
            return chinese
        return (*chinese, self.english.question, *self.english.variants)

    @property
    def location(self) -> str:
        """``file:line`` of the entry, for messages to admins."""
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True, order=True)
class Fault:
    """A problem in a knowledge-base file that an admin must fix."""

    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"
