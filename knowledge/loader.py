"""Read FAQ files and report every fault with its file and line.

Each entry is checked by a pydantic model (:class:`_Entry`) on the YAML read with the line of
every node (:mod:`knowledge.yaml_lines`), so that every entry, field and variant keeps the line
it was written on; faults are worded here, for the admins who write the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, PlainValidator, TypeAdapter

from knowledge.model import Asks, English, FaqEntry, Fault, Phrasing
from knowledge.yaml_lines import (
    FileEntry,
    Issue,
    Lined,
    Loc,
    Malformed,
    Unreadable,
    fault,
    identifier,
    read_lined,
    required_text,
)

__all__ = ["REQUIRED_FIELDS", "LoadResult", "load_directory", "load_file", "read_list"]

REQUIRED_FIELDS = ("id", "question", "answer", "source")
OPTIONAL_FIELDS = ("variants", "category", "answers", "en", "silent")
ENGLISH_FIELDS = ("question", "variants", "answer")
MAX_ANSWER_LENGTH = 1500
"""Longer answers do not fit one chat message on every channel."""

# Messages to the admin, in one place.
_NOT_A_LIST = "文件顶层应是条目列表（每条以“- id: …”开头）"
_NOT_A_MAPPING = "条目应是“字段: 值”的映射"
_UNKNOWN_FIELD = "未知字段“{field}”（可用字段：{known}）"
_DUPLICATE_FIELD = "字段“{field}”在同一条目中出现了两次"
_MISSING_FIELD = "条目缺少必填字段“{field}”"
_EMPTY_FIELD = "字段“{field}”不能为空"
_NOT_TEXT = "字段“{field}”应是一段文字"
_NOT_TEXT_LIST = "{field} 应是文字列表（每行以“- ”开头）"
_EMPTY_VARIANT = "{field} 中有一条是空的"
_UNKNOWN_ASKS = "answers 中的“{kind}”不是已知的问题类型（可用：{known}）"
_NOT_ENGLISH_MAPPING = "en 应是“question / variants / answer”的映射"
_UNKNOWN_ENGLISH_FIELD = "en 中的未知字段“{field}”（可用字段：{known}）"
_MISSING_ENGLISH_FIELD = "en 缺少必填字段“{field}”"
_NOT_YES_NO = "silent 应是 true 或 false"
_BAD_ID = "id“{id}”应由小写字母、数字和连字符组成（例如 reply-deadline）"
_ANSWER_TOO_LONG = "答案有 {length} 字，超过 {limit} 字，请拆分或精简"
_DUPLICATE_ID = "id“{id}”重复，第一次出现在 {first}"
_YAML_ERROR = "YAML 格式错误：{problem}"
_NO_FILES = "目录中没有 .yaml 文件"
_NOT_A_DIRECTORY = "不是目录"
_UNEXPECTED = "字段“{field}”有误：{problem}"


# --- the shape of an entry ------------------------------------------------------------------
# Each kind of value is checked by one function that raises a fault of its own kind; _word
# turns the kind into the admin's message.


def _answer(value: object) -> str:
    text = required_text(value)
    if len(text) > MAX_ANSWER_LENGTH:
        raise fault("too_long", length=len(text))
    return text


def _phrase(value: object) -> str:
    """One line of a list of texts (variants, answers)."""
    if isinstance(value, list | dict):
        raise fault("not_phrase")
    text = str(value or "").strip()
    if not text:
        raise fault("empty_phrase")
    return text


def _asks(value: object) -> Asks:
    text = _phrase(value)
    try:
        return Asks(text)
    except ValueError:
        raise fault("unknown_asks") from None


def _yes_no(value: object) -> bool:
    text = value.strip().lower() if isinstance(value, str) else ""
    if text not in ("true", "false"):
        raise fault("not_yes_no")
    return text == "true"


def _present(value: object) -> object:
    if value is None:
        raise fault("null")
    return value


Text = Annotated[str, PlainValidator(required_text)]
Phrases = tuple[Annotated[str, PlainValidator(_phrase)], ...]


class _English(FileEntry):
    question: Text
    variants: Phrases = ()
    answer: Annotated[str, PlainValidator(_answer)]


class _Entry(FileEntry):
    id: Annotated[str, PlainValidator(identifier)]
    question: Text
    answer: Annotated[str, PlainValidator(_answer)]
    source: Text
    variants: Phrases = ()
    category: Text = "general"
    answers: tuple[Annotated[Asks, PlainValidator(_asks)], ...] = ()
    # Left out, there is no English side; written with nothing under it, it is a fault.
    en: Annotated[_English | None, BeforeValidator(_present)] = None
    silent: Annotated[bool, PlainValidator(_yes_no)] = False


_ID = TypeAdapter(Annotated[str, PlainValidator(identifier)])


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Entries read and faults found; the entries are usable only when ``faults`` is empty."""

    entries: tuple[FaqEntry, ...]
    faults: tuple[Fault, ...]
    ids: tuple[tuple[str, Path, int], ...] = ()
    """Every entry's id with its file and line, the entries with faults elsewhere included."""


def load_directory(directory: Path) -> LoadResult:
    """Read every ``*.yaml`` / ``*.yml`` file of ``directory`` (sorted, not recursive).

    Duplicate ids across files are faults; collisions between entries are checked separately
    by :func:`knowledge.check.find_collisions`, which needs the analyzer.
    """
    if not directory.is_dir():
        return LoadResult((), (Fault(directory, 0, _NOT_A_DIRECTORY),))
    files = sorted(p for p in directory.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())
    if not files:
        return LoadResult((), (Fault(directory, 0, _NO_FILES),))
    entries: list[FaqEntry] = []
    faults: list[Fault] = []
    ids: list[tuple[str, Path, int]] = []
    for path in files:
        result = load_file(path)
        entries.extend(result.entries)
        faults.extend(result.faults)
        ids.extend(result.ids)
    # Over every id written, so that a repeated id shows in the same run as the faults of
    # either entry, not only once those are mended.
    first_seen: dict[str, tuple[Path, int]] = {}
    for entry_id, path, line in ids:
        first = first_seen.setdefault(entry_id, (path, line))
        if first != (path, line):
            faults.append(
                Fault(path, line, _DUPLICATE_ID.format(id=entry_id, first=f"{first[0]}:{first[1]}"))
            )
    return LoadResult(tuple(entries), tuple(sorted(faults)))


def load_file(path: Path) -> LoadResult:
    """Read one FAQ file."""
    document, faults = read_list(path, _NOT_A_LIST)
    if document is None:
        return LoadResult((), tuple(faults))
    entries = []
    ids = []
    for loc in document.items(()):
        checked = document.check(_Entry, loc)
        faults.extend(Fault(path, issue.line, _word(issue, loc)) for issue in checked.issues)
        if checked.value is not None and not checked.issues:
            entries.append(_faq_entry(path, document, loc, checked.value))
        entry_id = document.value(_ID, (*loc, "id"))
        if entry_id is not None:
            ids.append((entry_id, path, document.line(loc)))
    return LoadResult(tuple(entries), tuple(faults), tuple(ids))


def read_list(path: Path, not_a_list: str) -> tuple[Lined | None, list[Fault]]:
    """A YAML file whose top level is a list (an empty file is an empty list), read with lines.

    Args:
        path: The file.
        not_a_list: The fault to report when the top level is something else.

    Returns:
        The document (None when it cannot be read), and the fault that stops its reading,
        if any; ``document.items(())`` are then the items to check one by one.
    """
    try:
        document = read_lined(path)
    except Unreadable as error:
        return None, [Fault(path, 0, _YAML_ERROR.format(problem=error))]
    except Malformed as error:
        return None, [Fault(path, error.line, _YAML_ERROR.format(problem=error.problem))]
    if document.has(()) and not isinstance(document.data, list):  # written, but not a list
        return None, [Fault(path, document.line(()), not_a_list)]
    return document, []


def _faq_entry(path: Path, document: Lined, loc: Loc, entry: _Entry) -> FaqEntry:
    """The entry as the matcher uses it, each phrasing with its line."""

    def phrasings(where: Loc, texts: tuple[str, ...]) -> tuple[Phrasing, ...]:
        return tuple(
            Phrasing(text, document.line((*where, index))) for index, text in enumerate(texts)
        )

    english = None
    if entry.en is not None:
        question = Phrasing(entry.en.question, document.line((*loc, "en", "question")))
        variants = phrasings((*loc, "en", "variants"), entry.en.variants)
        english = English(question, variants, entry.en.answer)
    return FaqEntry(
        id=entry.id,
        question=entry.question,
        variants=phrasings((*loc, "variants"), entry.variants),
        answer=entry.answer,
        source=entry.source,
        category=entry.category,
        file=path,
        line=document.line(loc),
        question_line=document.line((*loc, "question")),
        answers=frozenset(entry.answers),
        english=english,
        silent=entry.silent,
    )


def _word(issue: Issue, loc: Loc) -> str:
    """The admin's message for an issue of the entry at ``loc``."""
    inside = issue.loc[len(loc) :]
    field = ".".join(part for part in inside if isinstance(part, str))  # en.question, variants
    english = inside[:1] == ("en",) and len(inside) > 1
    name, kind = str(inside[-1]) if inside else "", issue.kind
    known = ENGLISH_FIELDS if english else REQUIRED_FIELDS + OPTIONAL_FIELDS
    if kind == "duplicate_key" and name in known:
        return _DUPLICATE_FIELD.format(field=name)
    if kind in ("extra_forbidden", "duplicate_key"):
        message = _UNKNOWN_ENGLISH_FIELD if english else _UNKNOWN_FIELD
        return message.format(field=name, known="、".join(known))
    if kind == "missing":
        return (_MISSING_ENGLISH_FIELD if english else _MISSING_FIELD).format(field=name)
    if kind in ("model_type", "null"):
        return _NOT_ENGLISH_MAPPING if inside else _NOT_A_MAPPING
    value = issue.input.strip() if isinstance(issue.input, str) else ""
    return _BY_KIND.get(kind, _UNEXPECTED).format(
        field=field,
        id=value,
        kind=value,
        known="、".join(kind.value for kind in Asks),
        length=issue.ctx.get("length"),
        limit=MAX_ANSWER_LENGTH,
        problem=issue.message,
    )


_BY_KIND = {
    "not_text": _NOT_TEXT,
    "empty": _EMPTY_FIELD,
    "bad_id": _BAD_ID,
    "too_long": _ANSWER_TOO_LONG,
    "tuple_type": _NOT_TEXT_LIST,
    "not_phrase": _NOT_TEXT_LIST,
    "empty_phrase": _EMPTY_VARIANT,
    "unknown_asks": _UNKNOWN_ASKS,
    "not_yes_no": _NOT_YES_NO,
}
"""The message for each kind of fault in a field's value."""
