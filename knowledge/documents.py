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
from typing import Annotated

from pydantic import PlainValidator

from knowledge.loader import read_list
from knowledge.model import Fault
from knowledge.yaml_lines import (
    FileEntry,
    Issue,
    Lined,
    Loc,
    fault,
    one_value,
)

__all__ = ["DOCUMENTS_FILE", "Document", "Status", "document_for", "load_documents"]

DOCUMENTS_FILE = "documents.yaml"
"""In the ``sources`` folder beside the FAQ folder."""

_FIELDS = ("number", "title", "title_en", "file", "issued", "status", "valid_until", "district")
_REQUIRED = ("number", "title", "status")

_NOT_A_LIST = "文件顶层应是文件列表（每条以“- number: …”开头）"
_DUPLICATE_FIELD = "字段“{field}”出现了两次"
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
    document, faults = read_list(path, _NOT_A_LIST)
    if document is None:
        return (), tuple(faults)
    documents = []
    for loc in document.items(()):
        checked = document.check(_Listed, loc)
        for issue in checked.issues:
            faults.extend(
                Fault(path, line, message) for line, message in _word(issue, document, loc)
            )
        if checked.value is not None and not checked.issues:
            listed = checked.value
            documents.append(
                Document(
                    number=listed.number,
                    title=listed.title,
                    title_en=listed.title_en or listed.title,
                    issued=listed.issued,
                    status=listed.status,
                    valid_until=listed.valid_until,
                    district=listed.district or None,
                )
            )
    return tuple(documents), tuple(faults)


def _needed(value: object) -> str:
    text = one_value(value)
    if not text:
        raise fault("empty")
    return text


def _status(value: object) -> Status:
    text = _needed(value)
    try:
        return Status(text)
    except ValueError:
        raise fault("bad_status") from None


def _date(value: object) -> date | None:
    text = one_value(value)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fault("bad_date") from None


Text = Annotated[str, PlainValidator(one_value)]
Needed = Annotated[str, PlainValidator(_needed)]
Day = Annotated[date | None, PlainValidator(_date)]


class _Listed(FileEntry):
    """A document as ``documents.yaml`` lists it."""

    number: Needed
    title: Needed
    title_en: Text = ""
    file: Text = ""
    issued: Day = None
    status: Annotated[Status, PlainValidator(_status)]
    valid_until: Day = None
    district: Text = ""


def _word(issue: Issue, document: Lined, loc: Loc) -> list[tuple[int, str]]:
    """Where and how the admin is told of an issue of the document at ``loc``."""
    name = str(issue.loc[-1]) if len(issue.loc) > len(loc) else ""
    missing = (document.line(loc), _MISSING.format(field=name))
    if issue.kind in ("missing", "empty"):
        return [missing]
    if issue.kind == "duplicate_key" and name in _FIELDS:
        return [(issue.line, _DUPLICATE_FIELD.format(field=name))]
    if issue.kind in ("extra_forbidden", "duplicate_key", "not_scalar"):
        # A list or mapping where one value belongs reads as a field the file does not know
        # (and a required one is then missing).
        unknown = _UNKNOWN_FIELD.format(field=name, known="、".join(_FIELDS))
        found = [(document.key_line(issue.loc), unknown)]
        return [*found, missing] if issue.kind == "not_scalar" and name in _REQUIRED else found
    if issue.kind == "bad_date":
        return [(issue.line, _BAD_DATE.format(field=name))]
    if issue.kind == "bad_status":
        return [(issue.line, _BAD_STATUS)]
    return [(document.line(loc), _NOT_A_MAPPING)]


def document_for(source: str, documents: Sequence[Document]) -> Document | None:
    """The document an entry's ``source`` cites, by the longest number it starts with."""
    cited = [d for d in documents if source.startswith(d.number)]
    return max(cited, key=lambda d: len(d.number), default=None)
