"""Text analysis shared by the knowledge base and the matcher.

A question goes through: Unicode NFKC (full width → half width), traditional → simplified
Chinese, lower case, punctuation and emoji to spaces; then the glossary maps English keywords,
common typos and colloquial words onto the policy's own terms; then jieba segments it with a
dictionary of those terms.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated

import jieba
import wordfreq
import zhconv
from pydantic import BeforeValidator, PlainValidator, TypeAdapter
from pydantic_core import PydanticCustomError

from knowledge.model import Fault
from knowledge.yaml_lines import Issue, Malformed, Unreadable, read_lined

__all__ = [
    "DATA_DIR",
    "Analyzer",
    "Clause",
    "Glossary",
    "asking_clauses",
    "clauses",
    "looks_english",
    "normalize",
]

DATA_DIR = Path(__file__).parent / "data"
"""Domain dictionary, glossary and stop words that ship with the bot."""

jieba.setLogLevel(logging.WARNING)
# zhconv opens its bundled dictionary without closing it unless handed a path; hand it one.
zhconv.loaddict(str(Path(zhconv.__file__).parent / "zhcdict.json"))

_SPACE = re.compile(r"\s+")
_COMMON = 50
"""jieba frequency from which a string counts as a real word (not a typo)."""
_TRADITIONAL = frozenset(form[0] for form in zhconv.zhconv.getdict("zh-hans"))
"""The characters a form zhconv converts to simplified starts with. A text with none of them
comes out of ``zhconv.convert`` as it went in (it converts only from such a character on),
so most questions skip the character-by-character walk."""


class _Kept(dict[int, str]):
    """``str.translate``'s table: letters, digits and ideographs stay; the rest become spaces.

    Filled as characters are first met (Unicode is too large to list), so a text is folded in
    C instead of a Python call per character.
    """

    def __missing__(self, code: int) -> str:
        char = chr(code)
        # Letters, digits and ideographs carry meaning; punctuation, symbols and emoji do not.
        kept = char if unicodedata.category(char)[0] in "LN" else " "
        self[code] = kept
        return kept


_KEPT = _Kept()


def normalize(text: str) -> str:
    """Fold a text to the form the matcher compares.

    >>> normalize("服務專員　多久給我回覆？？ Maker-Space!")
    '服务专员 多久给我回复 maker space'
    """
    text = unicodedata.normalize("NFKC", text)
    if not _TRADITIONAL.isdisjoint(text):
        text = zhconv.convert(text, "zh-hans")
    text = text.lower().translate(_KEPT)
    return _SPACE.sub(" ", text).strip()


_PUNCTUATION = re.compile(r"[，,。．.！!？?；;：:\n]+")
_ASKING = re.compile(
    r"[吗呢么？?]|什么|啥|怎|如何|多久|多少|多长|几|哪|谁|是否|能否|能不能|可不可以|可以吗|有没有|"
    r"请问|想问|想知道|咨询|(?<![a-z])(?:what|how|when|where|who|which|why|can|could|is there|"
    r"are there|do i|does|should|may i)(?![a-z])",
    re.IGNORECASE,
)
_CLAUSE_ENDS = re.compile(r"(?<=[？?])|[，,。．.！!；;：:\n]+")
_LONG = 12
"""Characters from which a message is read clause by clause: past a dozen, a clause that
asks nothing ("麻烦告诉一声，…") is usually the way of asking, not what is asked."""


@dataclass(frozen=True, slots=True)
class Clause:
    """A piece of a message between punctuation, without it."""

    text: str
    asks: bool
    """Whether it is worded as a question (吗, 怎么, 哪, what, how…)."""


def clauses(text: str) -> list[Clause]:
    """The clauses of ``text``, in order."""
    pieces = (piece.strip() for piece in _CLAUSE_ENDS.split(text))
    return [
        Clause(_PUNCTUATION.sub("", piece), bool(_ASKING.search(piece)))
        for piece in pieces
        if _PUNCTUATION.sub("", piece)
    ]


def asking_clauses(text: str, pieces: list[Clause] | None = None) -> list[str] | None:
    """In a message of several clauses, the clauses that ask; ``None`` otherwise.

    A founder often tells the story first and asks at the end: the story says less about what
    is asked than the question does.

    >>> asking_clauses("我们团队上个月刚搬到宝坻，在众创空间租了个工位。请问服务专员多久回复？")
    ['请问服务专员多久回复']

    Args:
        text: The message.
        pieces: Its :func:`clauses`, where the caller has them already.
    """
    if len(text) < _LONG:
        return None
    pieces = clauses(text) if pieces is None else pieces
    if len(pieces) < 2:
        return None
    return [clause.text for clause in pieces if clause.asks] or None


_ENGLISH_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_ENGLISH_GRAMMAR = frozenset(
    re.findall(
        r"\w+",
        "a an the is are am was were be do does did can could may might will would should shall "
        "i you we my our your it this that there what how who whom when where which why any some "
        "of to for in on at with from about and or if not no",
    )
)
"""Function words: a message built with them is English even when it names a Chinese term."""
_CHINESE_GRAMMAR = frozenset("的了吗呢吧么啥谁几哪怎我你您是有在能要想和与及")
"""Characters that build a Chinese sentence: with one of them, English words are borrowed
terms ("commissioner每周on site几天")."""


def looks_english(text: str) -> bool | None:
    """Whether ``text`` is written in English; ``None`` when it cannot be told (digits, emoji).

    A message with Chinese characters is English only when its sentence is built with English
    function words and they are not outnumbered (two characters to a word): "what is 众创空间"
    is English; "maker space 有补贴吗" and "我想问 how to 申请" are Chinese.

    >>> looks_english("Is there any rent subsidy?"), looks_english("我想问subsidy怎么申请")
    (True, False)
    >>> looks_english("2026-0001") is None
    True
    """
    found = [word.lower() for word in _ENGLISH_WORD.findall(text)]
    words = len(found)
    ideographs = sum(
        1 for char in text if "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"
    )
    if not words and not ideographs:
        return None
    if not ideographs:
        return True
    if any(char in _CHINESE_GRAMMAR for char in text):
        return False
    grammar = any(word in _ENGLISH_GRAMMAR for word in found)
    return grammar and words >= 2 and 2 * words >= ideographs


_DEFINED_TWICE = "术语“{term}”定义了两次（第一次在第 {first} 行）：两处的别名已合并，请写成一处"
_SWALLOWS = (
    "别名“{alias}”会吞掉“{other}”的开头：“{text}”会读成“{read}”。"
    "请改写别名，或为这个连写加一条术语（例如“{fix}: [{text}]”）"
)
_ALIAS_TWICE = "别名“{alias}”同时属于“{first}”和“{second}”"
_GLOSSARY_ERROR = "词表格式错误：{problem}"
_NOT_TERMS = "词表顶层应是“术语: [别名, …]”的映射"
_NOT_ALIASES = "术语“{term}”的别名应是列表，例如 {term}: [别名一, 别名二]"
_NOT_AN_ALIAS = "术语“{term}”的别名中有一项不是文字或是空的"


def _alias(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PydanticCustomError("not_alias", "an alias should be text")
    return value


def _empty_if_null(value: object) -> object:
    return () if value is None else value  # "term:" with nothing after it yet


_Aliases = Annotated[
    tuple[Annotated[str, PlainValidator(_alias)], ...], BeforeValidator(_empty_if_null)
]
_ALIASES: TypeAdapter[tuple[str, ...]] = TypeAdapter(_Aliases)


def _glossary_fault(issue: Issue) -> str:
    """The admin's message for what is wrong with a term's aliases."""
    term = str(issue.loc[0])
    return (_NOT_ALIASES if len(issue.loc) == 1 else _NOT_AN_ALIAS).format(term=term)


@dataclass(frozen=True, slots=True)
class Glossary:
    """Words people use → the policy's term (``"maker space"`` → ``"众创空间"``)."""

    canonical: Mapping[str, str]
    """Each normalized alias to its term; terms map to themselves."""
    faults: tuple[Fault, ...] = ()
    """What ``kb check`` reports about the file it was read from."""

    @classmethod
    def load(cls, path: Path) -> Glossary:
        """Read a glossary file (a mapping of term → list of aliases), noting every fault.

        A term defined twice keeps the aliases of both places; an alias of two terms keeps the
        first; an alias that swallows the start of another term is reported with the text it
        would misread.
        """
        try:
            document = read_lined(path)
        except Unreadable as error:
            return cls({}, (Fault(path, 0, _GLOSSARY_ERROR.format(problem=error)),))
        except Malformed as error:
            problem = _GLOSSARY_ERROR.format(problem=error.problem)
            return cls({}, (Fault(path, error.line, problem),))
        faults: list[Fault] = []
        if document.data is not None and not isinstance(document.data, dict):
            faults.append(Fault(path, document.line(()), _NOT_TERMS))
        terms: dict[str, list[str]] = {}
        for term in document.keys(()):
            checked = document.check(_ALIASES, (term,))
            faults.extend(Fault(path, i.line, _glossary_fault(i)) for i in checked.issues)
            terms[term] = list(checked.value or ())
        # Where each term and alias is first written, in file order, for the faults below.
        written = [(document.line((term,)), term) for term in terms]
        written += [
            (document.line((term, index)), normalize(alias))
            for term, aliases in terms.items()
            for index, alias in enumerate(aliases)
        ]
        for repeat in document.duplicates:
            if len(repeat.loc) != 1:
                continue  # inside a term's aliases, reported by the check above
            term = str(repeat.loc[0])
            message = _DEFINED_TWICE.format(term=term, first=repeat.first_line)
            faults.append(Fault(path, repeat.line, message))
            aliases = repeat.value.value(_ALIASES, ()) or ()
            terms.setdefault(term, []).extend(aliases)
            written.append((repeat.line, term))
            written += [
                (repeat.value.line((index,)), normalize(alias))
                for index, alias in enumerate(aliases)
            ]
        lines: dict[str, int] = {}
        for line, text in sorted(written, key=lambda pair: pair[0]):
            lines.setdefault(text, line)
        glossary = cls.from_mapping(terms)
        for alias, first, second in glossary.ambiguous(terms):
            line = lines.get(alias, 0)
            faults.append(
                Fault(path, line, _ALIAS_TWICE.format(alias=alias, first=first, second=second))
            )
        for alias, other, text, read in glossary.swallowed():
            fix = f"{glossary.canonical[alias]} {glossary.canonical[other]}"
            message = _SWALLOWS.format(alias=alias, other=other, text=text, read=read, fix=fix)
            faults.append(Fault(path, lines.get(alias, 0), message))
        return cls(glossary.canonical, tuple(sorted(faults)))

    @classmethod
    def from_mapping(cls, terms: Mapping[str, Iterable[str]]) -> Glossary:
        """Build a glossary from term → aliases; an alias of two terms keeps the first."""
        canonical: dict[str, str] = {}
        for term, aliases in terms.items():
            target = normalize(term)
            canonical.setdefault(target, target)
            for alias in aliases or ():
                canonical.setdefault(normalize(str(alias)), target)
        return cls(canonical)

    @staticmethod
    def ambiguous(terms: Mapping[str, Iterable[str]]) -> list[tuple[str, str, str]]:
        """Aliases listed under two different terms: (alias, first term, second term)."""
        owner: dict[str, str] = {}
        found = []
        for term, aliases in terms.items():
            target = normalize(term)
            for alias in aliases or ():
                folded = normalize(str(alias))
                first = owner.setdefault(folded, target)
                if first != target:
                    found.append((folded, first, target))
        return found

    def swallowed(self) -> list[tuple[str, str, str, str]]:
        """Aliases that take a character another term needs: (alias, other, text, read).

        An alias that is its term with a character added (宝坻区 for 宝坻) also matches where
        the term is followed by another term that starts with that character: "宝坻区科委" is
        宝坻 and 区科委, but the longest alias wins and the text reads "宝坻 科委". The same
        holds for a character added in front.
        """
        pattern = self.pattern()
        if pattern is None:
            return []
        found = []
        for alias, term in self.canonical.items():
            if alias == term or alias.isascii() or term not in alias:
                continue
            before, _, after = alias.partition(term)
            for other, target in self.canonical.items():
                if target == term or other.isascii():
                    continue
                if after and other.startswith(after) and other != after:
                    text = term + other
                elif before and other.endswith(before) and other != before:
                    text = other + term
                else:
                    continue
                read = _SPACE.sub(
                    " ", pattern.sub(lambda m: f" {self.canonical[m.group(0)]} ", text)
                ).strip()
                if target not in read:
                    found.append((alias, other, text, read))
        return found

    def pattern(self) -> re.Pattern[str] | None:
        """One alternation of every alias, longest first, so the longest reading wins."""
        if not self.canonical:
            return None
        parts = []
        for alias in sorted(self.canonical, key=len, reverse=True):
            if not alias.isascii():
                parts.append(re.escape(alias))
                continue
            # An English alias (or "5 1", from 5+1) must stand as whole words: "commissioner"
            # inside "commissioners" is handled by listing the plural, not by matching inside.
            # The check that no letter or digit comes before it is made after its first
            # character, (?<![a-z0-9]c), not before it, (?<![a-z0-9]), which is the same test:
            # every branch then starts with a character, and re skips the places where no
            # alias starts instead of trying all of them at every character (ten times faster).
            first, rest = re.escape(alias[:1]), re.escape(alias[1:])
            parts.append(rf"{first}(?<![a-z0-9]{first}){rest}(?![a-z0-9])")
        return re.compile("|".join(parts))


class Analyzer:
    """Turns text into the normalized string and the tokens the matcher works with."""

    def __init__(
        self,
        glossary: Glossary,
        terms: Iterable[str] = (),
        stopwords: Iterable[str] = (),
    ) -> None:
        """Create an analyzer.

        Args:
            glossary: Aliases folded onto policy terms before segmentation.
            terms: Domain words jieba must keep whole (众创空间, 服务专员…).
            stopwords: Words that say nothing about the topic (什么, 吗, 我…).
        """
        self.glossary = glossary
        self._pattern = glossary.pattern()
        self.stopwords = frozenset(normalize(word) for word in stopwords)
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        self.terms = frozenset(
            word
            for term in {*terms, *glossary.canonical.values()}
            for word in normalize(term).split()
        )
        """The policy's own words: the terms and the glossary's targets."""
        for term in {*terms, *glossary.canonical.values()}:
            word = normalize(term)
            # A term written with a space ("提交 工单") stands for several words, so that
            # "提交个工单" and "开个工单" share both of them.
            if word and not word.isascii() and " " not in word:
                self._tokenizer.add_word(word, freq=200_000)

    @classmethod
    def default(cls) -> Analyzer:
        """The analyzer with the dictionary, glossary and stop words that ship with the bot."""
        return _default_analyzer()

    def fold(self, text: str) -> str:
        """Normalize ``text`` and replace aliases by their policy term."""
        folded = normalize(text)
        if self._pattern is not None:
            canonical = self.glossary.canonical
            folded = self._pattern.sub(lambda m: f" {canonical[m.group(0)]} ", folded)
            folded = _SPACE.sub(" ", folded).strip()
        return folded

    def is_common_word(self, text: str) -> bool:
        """Whether jieba's dictionary knows ``text`` as a word in its own right."""
        return int(self._tokenizer.FREQ.get(text, 0)) >= _COMMON

    def everyday(self, word: str) -> float | None:
        """How common ``word`` is in everyday language, on the Zipf scale (log10 per billion).

        Chinese from jieba's dictionary, English from wordfreq's small list; ``None`` for what
        neither language can say (numbers, mixed strings). A word neither list holds is 0: rare.
        """
        if word.isascii():
            if not word.isalpha():
                return None
            return float(wordfreq.zipf_frequency(word, "en", wordlist="small"))
        if word in self.terms:
            return None  # the analyzer gave the policy's terms a made-up frequency
        count = int(self._tokenizer.FREQ.get(word, 0))
        return math.log10(count * 1e9 / self._tokenizer.total) if count else 0.0

    def tokens(self, folded: str) -> list[str]:
        """Segment an already folded text into words, spaces dropped."""
        return [t for t in self._tokenizer.lcut(folded, HMM=False) if not t.isspace()]

    def content_tokens(self, folded: str) -> list[str]:
        """The words of ``folded`` that carry meaning (stop words removed)."""
        return [t for t in self.tokens(folded) if t not in self.stopwords]


def _read_words(path: Path) -> list[str]:
    """Words of a list file: separated by spaces or lines; ``#`` starts a comment."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        words += line.split("#", 1)[0].split()
    return words


@cache
def _default_analyzer() -> Analyzer:
    return Analyzer(
        Glossary.load(DATA_DIR / "glossary.yaml"),
        terms=_read_words(DATA_DIR / "terms.txt"),
        stopwords=_read_words(DATA_DIR / "stopwords.txt"),
    )
