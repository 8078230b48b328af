"""Read FAQ files and report every fault with its file and line.

The YAML is composed into nodes rather than loaded into plain objects so that every entry,
field and variant keeps the line it was written on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml

from knowledge.model import Asks, English, FaqEntry, Fault, Phrasing

__all__ = ["REQUIRED_FIELDS", "LoadResult", "load_directory", "load_file", "read_items"]

# libyaml's parser is ~20x faster and keeps the line marks the fault messages need.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
T = TypeVar("T")

REQUIRED_FIELDS = ("id", "question", "answer", "source")
OPTIONAL_FIELDS = ("variants", "category", "answers", "en", "silent")
_KNOWN_FIELDS = frozenset(REQUIRED_FIELDS + OPTIONAL_FIELDS)
ENGLISH_FIELDS = ("question", "variants", "answer")
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
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


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Entries read and faults found; the entries are usable only when ``faults`` is empty."""

    entries: tuple[FaqEntry, ...]
    faults: tuple[Fault, ...]


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
    for path in files:
        result = load_file(path)
        entries.extend(result.entries)
        faults.extend(result.faults)
    first_seen: dict[str, FaqEntry] = {}
    for entry in entries:
        earlier = first_seen.setdefault(entry.id, entry)
        if earlier is not entry:
            faults.append(
                Fault(
                    entry.file,
                    entry.line,
                    _DUPLICATE_ID.format(id=entry.id, first=earlier.location),
                )
            )
    return LoadResult(tuple(entries), tuple(sorted(faults)))


def load_file(path: Path) -> LoadResult:
    """Read one FAQ file."""
    entries, faults = read_items(path, _NOT_A_LIST, _read_entry)
    return LoadResult(entries, faults)


def read_items(
    path: Path, not_a_list: str, read: Callable[[Path, yaml.Node, list[Fault]], T | None]
) -> tuple[tuple[T, ...], tuple[Fault, ...]]:
    """The items of a YAML file whose top level is a list, each read with its line marks.

    Args:
        path: The file.
        not_a_list: The fault to report when the top level is something else.
        read: Reads one item's node, adding its faults to the list; ``None`` for a bad item.

    Returns:
        The items read, and every fault (an empty file is an empty list).
    """
    nodes, faults = _nodes(path, not_a_list)
    items = [item for node in nodes if (item := read(path, node, faults)) is not None]
    return tuple(items), tuple(faults)


def _nodes(path: Path, not_a_list: str) -> tuple[list[yaml.Node], list[Fault]]:
    """The item nodes of a YAML list file, or the fault that stopped the reading."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, UnicodeDecodeError) as error:
        return [], [Fault(path, 0, _YAML_ERROR.format(problem=error))]
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 0
        problem = " ".join(filter(None, [error.context, error.problem]))
        return [], [Fault(path, line, _YAML_ERROR.format(problem=problem))]
    except yaml.YAMLError as error:
        return [], [Fault(path, 0, _YAML_ERROR.format(problem=error))]
    if root is None:
        return [], []
    if not isinstance(root, yaml.SequenceNode):
        return [], [Fault(path, _line(root), not_a_list)]
    return list(root.value), []


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _read_entry(path: Path, node: yaml.Node, faults: list[Fault]) -> FaqEntry | None:
    if not isinstance(node, yaml.MappingNode):
        faults.append(Fault(path, _line(node), _NOT_A_MAPPING))
        return None
    fields: dict[str, yaml.Node] = {}
    before = len(faults)
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key not in _KNOWN_FIELDS:
            known = "、".join(REQUIRED_FIELDS + OPTIONAL_FIELDS)
            faults.append(
                Fault(path, _line(key_node), _UNKNOWN_FIELD.format(field=key, known=known))
            )
        elif key in fields:
            faults.append(Fault(path, _line(key_node), _DUPLICATE_FIELD.format(field=key)))
        else:
            fields[key] = value_node
    for name in REQUIRED_FIELDS:
        if name not in fields:
            faults.append(Fault(path, _line(node), _MISSING_FIELD.format(field=name)))
    text = {
        name: _text(path, name, fields.get(name), faults) for name in (*REQUIRED_FIELDS, "category")
    }
    variants = _variants(path, "variants", fields.get("variants"), faults)
    answers = _answers(path, fields.get("answers"), faults)
    silent = _yes_no(path, fields.get("silent"), faults)
    english = _english(path, fields.get("en"), faults)
    entry_id = text["id"]
    if entry_id and not _ID.match(entry_id):
        faults.append(Fault(path, _line(fields["id"]), _BAD_ID.format(id=entry_id)))
    answer = text["answer"]
    if answer:
        _check_length(path, fields["answer"], answer, faults)
    if len(faults) > before or not all(text[name] for name in REQUIRED_FIELDS):
        return None
    return FaqEntry(
        id=text["id"] or "",
        question=text["question"] or "",
        variants=variants,
        answer=answer or "",
        source=text["source"] or "",
        category=text["category"] or "general",
        file=path,
        line=_line(node),
        question_line=_line(fields["question"]),
        answers=answers,
        english=english,
        silent=silent,
    )


def _yes_no(path: Path, node: yaml.Node | None, faults: list[Fault]) -> bool:
    if node is None:
        return False
    value = str(node.value).strip().lower() if isinstance(node, yaml.ScalarNode) else ""
    if value not in ("true", "false"):
        faults.append(Fault(path, _line(node), _NOT_YES_NO))
    return value == "true"


def _check_length(path: Path, node: yaml.Node, answer: str, faults: list[Fault]) -> None:
    if len(answer) > MAX_ANSWER_LENGTH:
        faults.append(
            Fault(
                path,
                _line(node),
                _ANSWER_TOO_LONG.format(length=len(answer), limit=MAX_ANSWER_LENGTH),
            )
        )


def _answers(path: Path, node: yaml.Node | None, faults: list[Fault]) -> frozenset[Asks]:
    kinds: set[Asks] = set()
    for item in _variants(path, "answers", node, faults):
        try:
            kinds.add(Asks(item.text))
        except ValueError:
            known = "、".join(kind.value for kind in Asks)
            faults.append(Fault(path, item.line, _UNKNOWN_ASKS.format(kind=item.text, known=known)))
    return frozenset(kinds)


def _english(path: Path, node: yaml.Node | None, faults: list[Fault]) -> English | None:
    if node is None:
        return None
    if not isinstance(node, yaml.MappingNode):
        faults.append(Fault(path, _line(node), _NOT_ENGLISH_MAPPING))
        return None
    before = len(faults)
    fields: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key not in ENGLISH_FIELDS:
            known = "、".join(ENGLISH_FIELDS)
            message = _UNKNOWN_ENGLISH_FIELD.format(field=key, known=known)
            faults.append(Fault(path, _line(key_node), message))
        elif key in fields:
            faults.append(Fault(path, _line(key_node), _DUPLICATE_FIELD.format(field=key)))
        else:
            fields[key] = value_node
    for name in ("question", "answer"):
        if name not in fields:
            faults.append(Fault(path, _line(node), _MISSING_ENGLISH_FIELD.format(field=name)))
    question = _text(path, "en.question", fields.get("question"), faults)
    answer = _text(path, "en.answer", fields.get("answer"), faults)
    variants = _variants(path, "en.variants", fields.get("variants"), faults)
    if answer:
        _check_length(path, fields["answer"], answer, faults)
    if len(faults) > before or not question or not answer:
        return None
    return English(Phrasing(question, _line(fields["question"])), variants, answer)


def _text(path: Path, name: str, node: yaml.Node | None, faults: list[Fault]) -> str | None:
    if node is None:
        return None
    if not isinstance(node, yaml.ScalarNode):
        faults.append(Fault(path, _line(node), _NOT_TEXT.format(field=name)))
        return None
    value = str(node.value).strip()
    if not value:
        faults.append(Fault(path, _line(node), _EMPTY_FIELD.format(field=name)))
        return None
    return value


def _variants(
    path: Path, field: str, node: yaml.Node | None, faults: list[Fault]
) -> tuple[Phrasing, ...]:
    if node is None:
        return ()
    if not isinstance(node, yaml.SequenceNode):
        faults.append(Fault(path, _line(node), _NOT_TEXT_LIST.format(field=field)))
        return ()
    variants = []
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode):
            faults.append(Fault(path, _line(item), _NOT_TEXT_LIST.format(field=field)))
        elif not str(item.value).strip():
            faults.append(Fault(path, _line(item), _EMPTY_VARIANT.format(field=field)))
        else:
            variants.append(Phrasing(str(item.value).strip(), _line(item)))
    return tuple(variants)
