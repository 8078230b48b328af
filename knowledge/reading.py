"""Read a message before matching it: what it asks for, and whether it is a question at all.

What is told from the words alone, without the knowledge base:

* **chatter**: a greeting, thanks, a goodbye, "who are you", "a person please", an insult or an
  "ok" is answered warmly and never escalated; a greeting in front of a real question is
  dropped and the question answered;
* **elsewhere**: a question about a place outside Tianjin is outside both policies;
* **tasks**: work for the bot to do (write, translate, calculate) is not a question about the
  policy, whatever words it shares with it;
* **districts**: the districts of Tianjin a question names, since a district's own plan does not
  answer for another;
* **asks**: what kind of fact the question wants (an amount, a duration, a date, a place, a
  body), so that an entry that does not state it is not served as if it did.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

import yaml

from knowledge.model import Asks
from knowledge.text import DATA_DIR, asking_clauses, normalize

__all__ = ["CHECKED_ASKS", "Chatter", "District", "Reader", "Reading"]


class Chatter(StrEnum):
    """Kinds of message that are not a question about the policy."""

    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    IDENTITY = "identity"
    HUMAN = "human"
    INSULT = "insult"
    ACKNOWLEDGEMENT = "acknowledgement"


_PRIORITY = (
    Chatter.HUMAN,
    Chatter.IDENTITY,
    Chatter.INSULT,
    Chatter.THANKS,
    Chatter.GOODBYE,
    Chatter.GREETING,
    Chatter.ACKNOWLEDGEMENT,
)
"""When a message holds several ("谢谢，再见"), the one that asks most of the bot wins."""

CHECKED_ASKS = frozenset(
    {Asks.HOW_MUCH, Asks.HOW_LONG, Asks.WHEN, Asks.WHERE, Asks.WHO, Asks.CONDITIONS}
)
"""Kinds of fact an entry must declare to be served for them: a question asking the rate of a
loan must not get the loan's existence as its answer. Open kinds (how, what, whether) are
answered by any entry on the topic."""

# What each checked kind of question looks like, in normalized text (simplified, lower case,
# punctuation as spaces). Counts ("多少个", "how many people") are not amounts: the base's lists
# answer them.
_CUES: Mapping[Asks, re.Pattern[str]] = {
    kind: re.compile(pattern)
    for kind, pattern in {
        Asks.HOW_MUCH: (
            r"多少钱|金额|利率|利息|年息|息率|比例|罚款|罚金|罚多少|额度|价格|价钱|费用是多少|"
            r"(?:补贴|补助|奖励|奖金|资助|贷款?|拿|给|补|奖)(?:能|可以|最多|一般)?"
            r"多少(?![个家人名天年月])|"
            r"多少万|几万|标准是多少|\bhow much\b(?! time)|\binterest rate|"
            r"\bwhat (?:is the )?rate\b|\bamount\b|\bpenalt|\bfined?\b|\bpercentage\b|"
            r"\bcost\b|\bfees?\b"
        ),
        Asks.HOW_LONG: (
            r"多久|多长时间|几年|几个月|几周|多少天|期限是|时限是|\bhow long\b|\bhow much time\b|"
            r"\bhow many (?:days|weeks|months|years)\b|\bwithin how\b|\bwhat is the deadline\b"
        ),
        Asks.WHEN: (
            r"什么时候|啥时候|何时|哪年|哪一年|几号|几月|哪天|哪一天|日期|"
            r"\bby when\b|\bwhat (?:date|year|time)\b|\bwhich (?:year|day|date)\b|"
            r"\bwhen (?:do|does|did|is|are|was|were|will|can|should|would|could)\b"
        ),
        Asks.WHERE: (
            r"(?<!从)在哪(?![些个种样])|(?<!从)哪里|(?<!从)哪儿|地址|\bwhere\b|\baddress\b"
        ),
        Asks.HOW: (
            r"怎么|如何|怎样|咋|流程|步骤|"
            r"\bhow (?:do|does|did|can|could|to|should|would|will|is|are|was|were)\b"
        ),
        Asks.CONDITIONS: (
            r"什么条件|哪些条件|啥条件|条件是|资格|门槛|要求是|需要什么材料|要什么材料|哪些材料|"
            r"\brequirements?\b|\beligib|\bqualif|\bwhat do i need\b"
        ),
        Asks.WHO: (
            r"谁|叫什么名字|哪个(?:部门|单位|机构|机关)|哪家(?:单位|机构)|什么(?:部门|单位|机构)|"
            r"\bwho\b|\bwhom\b|\bwhich (?:department|agency|office|body)\b"
        ),
    }.items()
}

_FILLER = re.compile(
    r"^(?:[啊呀吧呢哦嘛哈了的吗么]|请问|想问|我想问|问一下|麻烦|打扰了|打扰一下|please)+$"
)
_TASK = re.compile(
    r"^(?:请|麻烦|能不能|能否|可以)?(?:帮我|替我|给我|帮忙)(?:写|翻译|译|算|计算|画|改|润色|做个|做一)|"
    r"^(?:please |can you |could you )?(?:write|translate|draw|calculate|compose|draft) "
)
"""A message that sets the bot a task, in normalized text; ``帮我查…`` is not one (a request
lookup is the bot's work)."""
_LIGHT = re.compile(r"^[我你您他她这那也太了吧啊呀呢哦嘛哈得真就先都还些净说的是个在就又可]*$")
"""What may surround a chatter phrase inside a short message ("你这也太笨了吧", "我得走了"):
pronouns, particles and degree words, nothing that could be a topic."""
_SHORT = 16
"""Characters (spaces aside) up to which a message may be chatter with such words around it."""


@dataclass(frozen=True, slots=True)
class District:
    """A district of Tianjin, by its names."""

    name: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Reading:
    """What was read from a message before matching.

    Attributes:
        chatter: The kind of non-question the whole message is, or ``None``.
        question: The message without a leading greeting: what is matched.
        asks: The checked kinds of fact the question wants.
        elsewhere: A place outside Tianjin the question is about, as written.
        districts: The districts of Tianjin it names, in order.
        task: Whether it sets the bot a task (write, translate, calculate) instead of asking.
    """

    chatter: Chatter | None
    question: str
    asks: frozenset[Asks]
    elsewhere: str | None
    districts: tuple[District, ...] = ()
    task: bool = False


class Reader:
    """Reads messages with the phrase lists that ship in ``knowledge/data``."""

    def __init__(
        self,
        chatter: Mapping[Chatter, Iterable[str]],
        places: Iterable[str],
        in_scope: Iterable[str],
        districts: Mapping[str, District] | None = None,
    ) -> None:
        """Build the patterns.

        Args:
            chatter: Phrases of each kind, as people write them.
            places: Places outside Tianjin.
            in_scope: Names besides the districts that keep a question in Tianjin although it
                names a place.
            districts: Tianjin's districts by each way of writing them.
        """
        self._kinds: dict[str, Chatter] = {}
        for kind, phrases in chatter.items():
            for phrase in phrases:
                self._kinds.setdefault(normalize(phrase), kind)
        self._chatter = _alternation(self._kinds)
        self._places = _alternation({normalize(p): p for p in places})
        self._district_of = {normalize(k): v for k, v in (districts or {}).items()}
        self._districts = _alternation(self._district_of)
        # A district of Tianjin keeps a question in Tianjin whatever other place it names.
        self._in_scope = _alternation({normalize(p): p for p in (*in_scope, *self._district_of)})

    @classmethod
    def default(cls) -> Reader:
        """The reader with the lists that ship with the bot."""
        return _default_reader()

    def read(self, text: str) -> Reading:
        """Read one message."""
        folded = normalize(text)
        chatter, head, rest = self._chatter_of(folded)
        if chatter is not None and not rest:
            return Reading(chatter, text, frozenset(), None)
        question = _without_head(text, head) if head else text
        return Reading(
            None,
            question,
            self._asks(question),
            self._elsewhere(rest),
            self._named(rest),
            task=_TASK.match(rest) is not None,
        )

    def district(self, name: str) -> District | None:
        """The district called ``name`` (in any of its ways of writing)."""
        return self._district_of.get(normalize(name))

    def _named(self, folded: str) -> tuple[District, ...]:
        if self._districts is None:
            return ()
        found = (self._district_of[m.group(0)] for m in self._districts.finditer(folded))
        return tuple(dict.fromkeys(found))

    def _chatter_of(self, folded: str) -> tuple[Chatter | None, str, str]:
        """What chatter the message is, the greeting at its start, and what is left after both.

        A message is chatter when nothing but chatter phrases and filler is left; otherwise only
        a greeting at its start is taken off ("你好 请问…"), and the kind is ``None``.
        """
        if self._chatter is None:
            return None, "", folded
        found: list[Chatter] = []
        rest = folded
        while rest:
            head = self._chatter.match(rest)
            if head is None:
                break
            found.append(self._kinds[head.group(0)])
            rest = rest[head.end() :].lstrip()
        greeting = folded[: len(folded) - len(rest)].strip()
        words = rest.split()
        while words and (word := words[-1]) in self._kinds:
            found.append(self._kinds[word])
            words.pop()
        rest = " ".join(words)
        if not found:
            return self._made_of(folded)
        if not rest or _FILLER.match(rest.replace(" ", "")):
            return min(found, key=_PRIORITY.index), greeting, ""
        if greeting and {Chatter.GREETING, Chatter.THANKS} & set(found):
            return None, greeting, rest
        return self._made_of(folded)

    def _made_of(self, folded: str) -> tuple[Chatter | None, str, str]:
        """Whether a short message is chatter phrases with only light words around them.

        Returns:
            What :meth:`_chatter_of` returns: the kind, no greeting and nothing left; or no kind
            and the whole message.
        """
        assert self._chatter is not None
        compact = folded.replace(" ", "")
        if len(compact) <= _SHORT and not compact.isascii():  # English chatter: whole phrases
            found = [self._kinds[m.group(0)] for m in self._chatter.finditer(folded)]
            if found and _LIGHT.match(self._chatter.sub("", compact)):
                return min(found, key=_PRIORITY.index), "", ""
        return None, "", folded

    def _asks(self, question: str) -> frozenset[Asks]:
        """The checked kinds ``question`` asks for, read in the clauses that ask."""
        clauses = asking_clauses(question) or [question]
        folded = [normalize(clause) for clause in clauses]
        return frozenset(kind for kind, cue in _CUES.items() if any(cue.search(f) for f in folded))

    def _elsewhere(self, folded: str) -> str | None:
        if self._places is None:
            return None
        place = self._places.search(folded)
        if place is None:
            return None
        if self._in_scope is not None and self._in_scope.search(folded):
            return None
        return place.group(0)


_LEADING = re.compile(r"^[\W_]+")
"""What is left of punctuation and spaces between a greeting and the question."""


def _without_head(text: str, head: str) -> str:
    """``text`` as written, punctuation kept, without the start that folds to ``head``.

    The matcher reads a long message clause by clause, so it needs the question as written;
    only the few characters of the greeting are folded again to find where it ends.
    """
    for end in range(1, len(text) + 1):
        folded = normalize(text[:end])
        if folded == head:
            return _LEADING.sub("", text[end:])
        if len(folded) > len(head):
            break
    return text


def _alternation(phrases: Mapping[str, object]) -> re.Pattern[str] | None:
    """One pattern of every phrase, longest first; English phrases stand as whole words."""
    if not phrases:
        return None
    parts = []
    for phrase in sorted(phrases, key=len, reverse=True):
        escaped = re.escape(phrase)
        parts.append(rf"(?<![a-z0-9]){escaped}(?![a-z0-9])" if phrase.isascii() else escaped)
    return re.compile("|".join(parts))


def load_places(path: Path) -> tuple[list[str], list[str]]:
    """Places outside Tianjin, and the in-scope names (the line that starts with ``!``)."""
    places: list[str] = []
    in_scope: list[str] = []
    for line in _lines(path):
        if line.startswith("!"):
            in_scope += _names(line[1:])
        else:
            places += _names(line)
    return places, in_scope


def load_districts(path: Path) -> dict[str, District]:
    """Tianjin's districts by each way of writing them (see ``knowledge/data/districts.txt``)."""
    districts: dict[str, District] = {}
    for line in _lines(path):
        name, name_en, *others = (part.strip() for part in line.split("|"))
        district = District(name, name_en)
        for alias in (name, name_en, *_names(",".join(others))):
            districts[alias] = district
    return districts


def _lines(path: Path) -> Iterator[str]:
    """The lines of a list file that say something: ``#`` starts a comment."""
    for written in path.read_text(encoding="utf-8").splitlines():
        line = written.split("#", 1)[0].strip()
        if line:
            yield line


def _names(line: str) -> list[str]:
    return [name.strip() for name in line.split(",") if name.strip()]


@cache
def _default_reader() -> Reader:
    raw = yaml.safe_load((DATA_DIR / "chatter.yaml").read_text(encoding="utf-8")) or {}
    chatter = {Chatter(kind): [str(p) for p in phrases] for kind, phrases in raw.items()}
    places, in_scope = load_places(DATA_DIR / "places.txt")
    return Reader(chatter, places, in_scope, load_districts(DATA_DIR / "districts.txt"))
