"""YAML files that admins edit, read with the line of every node and checked by pydantic models.

An admin who breaks a file must be told where: ``roster.yaml:17: …``. :func:`read_lined` has
PyYAML compose the file into nodes, which carry their marks, and turns the nodes into plain
Python (dicts, lists, text and None) while keeping each node's line under its *loc*: the path
of keys and indexes that pydantic puts on every error. :meth:`Lined.check` validates a part of
the file with a pydantic model or type, so each error comes back as an :class:`Issue` that
already knows its line.

Scalars stay the text the admin wrote (``2001``, ``2026-12-01``, ``true``) and YAML's null is
None: each file's models decide what a text means, so a Telegram id keeps its digits and a date
is held to the file's own pattern. A key written twice in one mapping keeps its first value;
each repeat is an issue of kind ``duplicate_key`` and stays readable in
:attr:`Lined.duplicates`.

Each file keeps its own models and its own words: an issue carries pydantic's error type
(``missing``, ``extra_forbidden``… or a file's own kind, raised as ``PydanticCustomError``),
the input and the line, and the file's loader turns it into the sentence the admin reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

__all__ = [
    "Checked",
    "Duplicate",
    "FileEntry",
    "Issue",
    "Lined",
    "Listing",
    "Loc",
    "Malformed",
    "Unreadable",
    "fault",
    "identifier",
    "one_value",
    "parse_lined",
    "read_lined",
    "required_text",
]

T = TypeVar("T")

Loc = tuple[str | int, ...]
"""Where a value is: the keys and list indexes from the top of the file, as pydantic's ``loc``."""

# libyaml's parser is many times faster and keeps the marks all the same.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULL = "tag:yaml.org,2002:null"
_KEY = "[key]"
"""The last part of pydantic's loc for an error in a mapping's key rather than its value."""
_ON_THE_KEY = frozenset({"extra_forbidden", "duplicate_key"})
"""Issues about a key itself, reported on the key's line rather than its value's."""


IDENTIFIER = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
"""An id admins write: lowercase letters, digits and single hyphens (``reply-deadline``)."""


def fault(kind: str, **context: object) -> PydanticCustomError:
    """An issue of ``kind`` for a field validator to raise; each file words its kinds itself."""
    return PydanticCustomError(kind, kind.replace("_", " "), context)


def one_value(value: object, kind: str = "not_scalar") -> str:
    """The value as stripped text (``""`` when empty); a list or mapping is an issue of ``kind``."""
    if isinstance(value, list | dict):
        raise fault(kind)
    return str(value or "").strip()


def required_text(value: object) -> str:
    """Text that must be there: ``not_text`` for a list or mapping, ``empty`` for nothing."""
    text = one_value(value, "not_text")
    if not text:
        raise fault("empty")
    return text


def identifier(value: object) -> str:
    """An id (:data:`IDENTIFIER`): ``bad_id`` when written otherwise."""
    text = required_text(value)
    if not IDENTIFIER.match(text):
        raise fault("bad_id")
    return text


class FileEntry(BaseModel):
    """The base of a file's models: a field the model does not know is an issue, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _empty_if_null(value: object) -> object:
    return () if value is None else value


Listing = Annotated[tuple[Any, ...], BeforeValidator(_empty_if_null)]
"""A YAML list whose items are checked one by one (``Lined.check(model, (*loc, index))``), so
that a faulty item does not hide the others; ``key:`` with nothing under it yet is empty."""


class Unreadable(Exception):
    """The file cannot be read as UTF-8 text."""

    def __init__(self, problem: OSError | UnicodeDecodeError) -> None:
        """Keep the reason, as the operating system or the decoder gave it."""
        self.problem = problem
        super().__init__(str(problem))


class Malformed(Exception):
    """The text is not YAML (or not YAML the loader takes).

    Attributes:
        line: 1-based line the parser stopped at; 0 when it does not say.
        problem: What the parser found, in its words.
    """

    def __init__(self, line: int, problem: str) -> None:
        """Keep where and what."""
        self.line = line
        self.problem = problem
        super().__init__(f"{line}: {problem}")


@dataclass(frozen=True, slots=True)
class Issue:
    """One thing wrong in a file, before the file's loader words it.

    Attributes:
        loc: Where, from the top of the file.
        line: 1-based line of the offending node: the key's line for a key unknown or written
            twice, else the value's; a missing field is on its mapping's line.
        kind: Pydantic's error type, a file's own kind, or ``duplicate_key``.
        input: The value found; for a missing field, the mapping it is missing from.
        ctx: The error's context (``first_line`` for ``duplicate_key``).
        message: Pydantic's English message, for kinds a file has no words for.
    """

    loc: Loc
    line: int
    kind: str
    input: object
    ctx: Mapping[str, Any]
    message: str


@dataclass(frozen=True, slots=True)
class Checked(Generic[T]):
    """What :meth:`Lined.check` found at ``loc``.

    Attributes:
        loc: Where the checked value is.
        value: The validated value, or None when the model refused it. A key written twice
            does not stop validation: the value is there, and so is the issue.
        issues: Every issue inside ``loc``, in pydantic's order, repeated keys first.
    """

    loc: Loc
    value: T | None
    issues: tuple[Issue, ...]


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A key written a second time in one mapping.

    Attributes:
        loc: The key's loc (the mapping's loc and the key).
        line: Line of the repeat.
        first_line: Line where the key was first written.
        value: The repeat's value, with its own lines (locs start afresh inside it).
    """

    loc: Loc
    line: int
    first_line: int
    value: Lined


class Lined:
    """A YAML document as plain data, with the line of every value and key."""

    __slots__ = ("_key_lines", "_lines", "data", "duplicates")

    def __init__(
        self,
        data: object,
        lines: dict[Loc, int],
        key_lines: dict[Loc, int],
        duplicates: tuple[Duplicate, ...],
    ) -> None:
        """Use :func:`read_lined`; this keeps what it found.

        Args:
            data: The document: dicts, lists, text and None; None for an empty file too.
            lines: Each value's loc → its 1-based line.
            key_lines: Each mapping value's loc → the line of its key.
            duplicates: Keys written twice, in file order.
        """
        self.data = data
        self._lines = lines
        self._key_lines = key_lines
        self.duplicates = duplicates

    def has(self, loc: Loc) -> bool:
        """Whether the document has a value at ``loc`` (None, written as null, counts)."""
        return loc in self._lines

    def at(self, loc: Loc) -> object:
        """The plain value at ``loc``.

        Raises:
            KeyError: Nothing is written there.
        """
        value = self.data
        for part in loc:
            value = _child(value, part)
        return value

    def line(self, loc: Loc) -> int:
        """The line of the value at ``loc``, or of the nearest enclosing one; 0 for none."""
        for end in range(len(loc), -1, -1):
            found = self._lines.get(loc[:end])
            if found is not None:
                return found
        return 0

    def key_line(self, loc: Loc) -> int:
        """The line of the key of the value at ``loc``; the value's line for a list item."""
        return self._key_lines.get(loc) or self.line(loc)

    def check(self, kind: type[T] | TypeAdapter[T], loc: Loc = ()) -> Checked[T]:
        """Validate the value at ``loc`` with a pydantic model, type or adapter.

        An absent value is checked as None. Issues come with their lines; keys written twice
        come first, as issues of kind ``duplicate_key``: those inside ``loc``, down to but not
        into the items of a list, since each item is checked on its own (:data:`Listing`).
        """
        issues = [_repeated(dup) for dup in self.duplicates if _within(dup.loc, loc)]
        try:
            value: T | None = _adapter(kind).validate_python(self._get(loc))
        except ValidationError as error:
            value = None
            for found in error.errors(include_url=False):
                where = (*loc, *found["loc"])
                on_key = found["type"] in _ON_THE_KEY or where[-1:] == (_KEY,)
                if where[-1:] == (_KEY,):
                    where = where[:-1]
                line = self.key_line(where) if on_key else self.line(where)
                context = found.get("ctx", {})
                issues.append(
                    Issue(where, line, found["type"], found["input"], context, found["msg"])
                )
        return Checked(loc, value, tuple(issues))

    def value(self, kind: type[T] | TypeAdapter[T], loc: Loc) -> T | None:
        """The value at ``loc`` if it is there and holds, else None; its issues are dropped.

        For checks across items, which read one field of an item that may have faults
        elsewhere (those are reported by the item's own :meth:`check`).
        """
        if not self.has(loc):
            return None
        try:
            return _adapter(kind).validate_python(self._get(loc))
        except ValidationError:
            return None

    def items(self, loc: Loc) -> Iterator[Loc]:
        """The locs of the items of the list at ``loc``; none when it is not a list."""
        found = self._get(loc)
        if isinstance(found, list):
            yield from ((*loc, index) for index in range(len(found)))

    def keys(self, loc: Loc) -> tuple[str, ...]:
        """The keys of the mapping at ``loc``, in file order; none when it is not a mapping."""
        found = self._get(loc)
        return tuple(found) if isinstance(found, dict) else ()

    def _get(self, loc: Loc) -> object:
        try:
            return self.at(loc)
        except KeyError:
            return None


def _child(value: object, part: str | int) -> object:
    """``value[part]`` in plain YAML data; KeyError where nothing is written."""
    if isinstance(value, dict) and isinstance(part, str):
        return value[part]
    if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
        return value[part]
    raise KeyError(part)


def _within(key: Loc, loc: Loc) -> bool:
    """Whether a repeated key belongs to the check at ``loc``: inside it, not in a list item."""
    inner = key[len(loc) : -1]
    inside = len(key) > len(loc) and key[: len(loc)] == loc
    return inside and not any(isinstance(part, int) for part in inner)


def _repeated(duplicate: Duplicate) -> Issue:
    first = duplicate.first_line
    message = f"key written twice (first on line {first})"
    key = duplicate.loc[-1]
    return Issue(
        duplicate.loc, duplicate.line, "duplicate_key", key, {"first_line": first}, message
    )


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(kind: type[T] | TypeAdapter[T]) -> TypeAdapter[T]:
    if isinstance(kind, TypeAdapter):
        return kind
    # Building an adapter compiles the model's validator: once per model, not once per item.
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter


def read_lined(path: Path) -> Lined:
    """Read the YAML file at ``path`` with the line of every node.

    Raises:
        Unreadable: The file cannot be read, or is not UTF-8.
        Malformed: The text is not YAML, or an alias refers to a node that contains it.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise Unreadable(error) from None
    return parse_lined(text)


def parse_lined(text: str) -> Lined:
    """:func:`read_lined` of a text already read.

    Raises:
        Malformed: The text is not YAML, or an alias refers to a node that contains it.
    """
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = " ".join(filter(None, [error.context, error.problem]))
        raise Malformed(mark.line + 1 if mark else 0, problem) from None
    except yaml.YAMLError as error:
        raise Malformed(0, str(error)) from None
    if root is None:
        return Lined(None, {}, {}, ())
    return _Reader().read(root)


class _Reader:
    """Turns composed nodes into plain data, noting lines as it goes."""

    def __init__(self) -> None:
        self.lines: dict[Loc, int] = {}
        self.key_lines: dict[Loc, int] = {}
        self.duplicates: list[Duplicate] = []
        # An alias is the node it names: read once and shared, as PyYAML's own loader does,
        # so that aliases cannot multiply the work; lines are those of the first reading.
        self.done: dict[int, object] = {}
        self.open: set[int] = set()

    def read(self, root: yaml.Node) -> Lined:
        data = self.plain(root, ())
        return Lined(data, self.lines, self.key_lines, tuple(self.duplicates))

    def plain(self, node: yaml.Node, loc: Loc) -> object:
        line = _line(node)
        if id(node) in self.open:
            raise Malformed(line, "an alias refers to a node that contains it")
        if id(node) in self.done:
            return self.done[id(node)]
        self.lines[loc] = line
        if isinstance(node, yaml.ScalarNode):
            return None if node.tag == _NULL else str(node.value)
        self.open.add(id(node))
        value: object
        if isinstance(node, yaml.SequenceNode):
            value = [self.plain(item, (*loc, index)) for index, item in enumerate(node.value)]
        else:
            value = self.mapping(node, loc)
        self.open.discard(id(node))
        self.done[id(node)] = value
        return value

    def mapping(self, node: yaml.Node, loc: Loc) -> dict[str, object]:
        found: dict[str, object] = {}
        for key_node, value_node in node.value:
            key = _key_text(key_node)
            where = (*loc, key)
            if key in found:
                repeat = _Reader().read(value_node)
                first = self.key_lines[where]
                self.duplicates.append(Duplicate(where, _line(key_node), first, repeat))
                continue
            self.key_lines[where] = _line(key_node)
            found[key] = self.plain(value_node, where)
        return found


def _key_text(node: yaml.Node) -> str:
    """A key as text: a scalar as written, a list or mapping as YAML on one line."""
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return " ".join(yaml.serialize(node, Dumper=yaml.SafeDumper, allow_unicode=True).split())


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1
