"""What the knowledge base is made of."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["FaqEntry", "Fault", "Phrasing"]


@dataclass(frozen=True, slots=True)
class Phrasing:
    """One way of asking an entry's question, with where it is written."""

    text: str
    line: int


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

    @property
    def phrasings(self) -> tuple[Phrasing, ...]:
        """The question followed by its variants."""
        return (Phrasing(self.question, self.question_line), *self.variants)

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
