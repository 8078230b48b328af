"""The documents answers rest on, with their dates and status.

``knowledge/sources/documents.yaml`` lists each document once; an entry's ``source`` starts with
its document's ``number``. A trial measure past its term, or a superseded one, is still the
answer to what it said, but the answer says in one line that it has lapsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path

import yaml

from knowledge.loader import read_items
from knowledge.model import Fault

__all__ = ["DOCUMENTS_FILE", "Document", "Status", "document_for", "load_documents"]

DOCUMENTS_FILE = "documents.yaml"
"""In the ``sources`` folder beside the FAQ folder."""

_FIELDS = ("number", "title", "title_en", "file", "issued", "status", "valid_until", "district")
_REQUIRED = ("number", "title", "status")

_NOT_A_LIST = "文件顶层应是文件列表（每条以“- number: …”开头）"
_NOT_A_MAPPING = "每个文件应是“字段: 值”的映射"
_UNKNOWN_FIELD = "未知字段“{field}”（可用字段：{known}）"
_MISSING = "缺少必填字段“{field}”"
_BAD_DATE = "“{field}”应是日期，例如 2015-05-28"
_BAD_STATUS = "status 应是 current、trial 或 superseded 之一"


class Status(StrEnum):
    """Whether a document is in force."""

    CURRENT = "current"
    TRIAL = "trial"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class Document:
    """One policy document (or the bot's own guide).

    Attributes:
        number: How entries cite it: its document number, or its title when it has none.
        title: Its full title.
        title_en: Its title in English, for English answers.
        issued: When it was issued.
        status: Current, trial or superseded.
        valid_until: The last day of its term, if it has one.
        district: The district of Tianjin it is for, when it is one district's (宝坻区).
    """

    number: str
    title: str
    title_en: str
    issued: date | None
    status: Status
    valid_until: date | None
    district: str | None = None

    def lapsed(self, today: date) -> bool:
        """Whether, on ``today`` (Asia/Shanghai), the document is no longer in force."""
        if self.status is Status.SUPERSEDED:
            return True
        return self.valid_until is not None and today > self.valid_until


def load_documents(path: Path) -> tuple[tuple[Document, ...], tuple[Fault, ...]]:
    """Read the document list; a missing file is an empty list (no notes on validity)."""
    if not path.is_file():
        return (), ()
    return read_items(path, _NOT_A_LIST, _document)


def _document(path: Path, node: yaml.Node, faults: list[Fault]) -> Document | None:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        faults.append(Fault(path, line, _NOT_A_MAPPING))
        return None
    before = len(faults)
    values: dict[str, tuple[str, int]] = {}
    for key, value in node.value:
        name = str(key.value)
        if name not in _FIELDS or not isinstance(value, yaml.ScalarNode):
            known = "、".join(_FIELDS)
            faults.append(
                Fault(path, key.start_mark.line + 1, _UNKNOWN_FIELD.format(field=name, known=known))
            )
            continue
        values[name] = (str(value.value).strip(), value.start_mark.line + 1)
    for name in _REQUIRED:
        if not values.get(name, ("", 0))[0]:
            faults.append(Fault(path, line, _MISSING.format(field=name)))
    dates = {
        name: _date(path, name, values.get(name), faults) for name in ("issued", "valid_until")
    }
    status_text, status_line = values.get("status", ("", line))
    try:
        status = Status(status_text)
    except ValueError:
        if status_text:
            faults.append(Fault(path, status_line, _BAD_STATUS))
        return None
    if len(faults) > before:
        return None
    title = values["title"][0]
    return Document(
        number=values["number"][0],
        title=title,
        title_en=values.get("title_en", (title, 0))[0],
        issued=dates["issued"],
        status=status,
        valid_until=dates["valid_until"],
        district=values.get("district", ("", 0))[0] or None,
    )


def _date(path: Path, name: str, value: tuple[str, int] | None, faults: list[Fault]) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value[0])
    except ValueError:
        faults.append(Fault(path, value[1], _BAD_DATE.format(field=name)))
        return None


def document_for(source: str, documents: Sequence[Document]) -> Document | None:
    """The document an entry's ``source`` cites, by the longest number it starts with."""
    cited = [d for d in documents if source.startswith(d.number)]
    return max(cited, key=lambda d: len(d.number), default=None)
