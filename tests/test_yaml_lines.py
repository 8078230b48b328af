"""The shared reader of admin-edited YAML: lines for every node, pydantic errors on them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.domain.roster.faults import RosterError
from bot.domain.roster.load import load_roster
from knowledge.documents import load_documents
from knowledge.text import Glossary
from knowledge.yaml_lines import FileEntry, Malformed, parse_lined, read_lined

TEXT = """\
name: 服务一组
members:
  - {name: 张伟, telegram: 2001}
  - name: 李娜
    telegram: 2002
chat:
  telegram: -1002000000001
"""


class Member(FileEntry):
    name: str
    telegram: int


class Group(FileEntry):
    name: str
    members: tuple[Member, ...]
    chat: dict[str, int]


def test_every_value_and_key_keeps_its_line() -> None:
    document = parse_lined(TEXT)
    assert document.data == {
        "name": "服务一组",
        "members": [{"name": "张伟", "telegram": "2001"}, {"name": "李娜", "telegram": "2002"}],
        "chat": {"telegram": "-1002000000001"},
    }
    assert document.line(("members", 1, "telegram")) == 5
    assert document.line(("members", 0, "telegram")) == 3
    # A block mapping starts on the line after its key.
    assert (document.key_line(("chat",)), document.line(("chat",))) == (6, 7)
    # Nothing written there: the nearest enclosing value's line.
    assert document.line(("members", 1, "web")) == 4
    assert not document.has(("members", 1, "web"))


def test_a_pydantic_error_comes_back_on_the_line_of_its_node() -> None:
    text = TEXT.replace("    telegram: 2002\n", "    telegarm: 2002\n").replace("2001", "x")
    checked = parse_lined(text).check(Group)
    assert checked.value is None
    found = {(issue.line, issue.kind, issue.loc) for issue in checked.issues}
    assert found == {
        (3, "int_parsing", ("members", 0, "telegram")),
        (4, "missing", ("members", 1, "telegram")),  # on its mapping's line
        (5, "extra_forbidden", ("members", 1, "telegarm")),  # on the key's line
    }
    assert parse_lined(TEXT).check(Group).value == Group(
        name="服务一组",
        members=(Member(name="张伟", telegram=2001), Member(name="李娜", telegram=2002)),
        chat={"telegram": -1002000000001},
    )


def test_a_key_written_twice_keeps_the_first_and_is_an_issue() -> None:
    document = parse_lined("a: 1\nb:\n  - {c: 1, c: 2}\na: [3]\n")
    assert document.data == {"a": "1", "b": [{"c": "1"}]}
    (outer, inner) = sorted(document.duplicates, key=lambda d: len(d.loc))
    assert (outer.loc, outer.line, outer.first_line, outer.value.data) == (("a",), 4, 1, ["3"])
    assert (inner.loc, inner.line, inner.first_line) == (("b", 0, "c"), 3, 3)

    class Top(BaseModel):
        a: str
        b: list[object]

    # A check takes the repeats inside what it checks, but not inside list items: each item
    # is checked on its own and reports its own.
    issues = document.check(Top).issues
    assert [(issue.kind, issue.loc, issue.ctx) for issue in issues] == [
        ("duplicate_key", ("a",), {"first_line": 1})
    ]
    assert [issue.loc for issue in document.check(dict[str, int], ("b", 0)).issues] == [
        ("b", 0, "c")
    ]


def test_an_alias_may_repeat_a_node_but_not_contain_itself() -> None:
    assert parse_lined("a: &x [1, 2]\nb: *x\n").data == {"a": ["1", "2"], "b": ["1", "2"]}
    with pytest.raises(Malformed) as caught:
        parse_lined("a: &x [1, *x]\n")
    assert caught.value.line == 1
    with pytest.raises(Malformed) as caught:
        parse_lined("a: [1\nb: 2\n")
    assert caught.value.line == 2


def test_null_is_none_and_every_other_scalar_is_its_text(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a:\nb: ~\nc: true\nd: 2026-12-01\ne: '007'\n", encoding="utf-8")
    assert read_lined(path).data == {
        "a": None,
        "b": None,
        "c": "true",
        "d": "2026-12-01",
        "e": "007",
    }


# --- each file now tells a key written twice ---------------------------------------------------


def test_a_document_field_written_twice_is_a_fault(tmp_path: Path) -> None:
    path = tmp_path / "documents.yaml"
    path.write_text(
        "- number: 津科创〔2015〕51号\n  title: 办法\n  status: trial\n  status: current\n",
        encoding="utf-8",
    )
    documents, faults = load_documents(path)
    assert documents == ()
    assert [str(fault) for fault in faults] == [f"{path}:4: 字段“status”出现了两次"]


def test_a_chat_channel_written_twice_is_a_roster_fault(tmp_path: Path) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text(
        "districts:\n  - {id: baodi, name: 宝坻区,\n"
        "     supervisors_chat: {telegram: -1001, telegram: -1002}}\n"
        "admins:\n  - {name: 管理员, telegram: 9001}\n",
        encoding="utf-8",
    )
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    assert str(caught.value) == (
        f"{path}:3: 区 baodi 的 supervisors_chat 中字段“telegram”出现了两次"
    )


def test_glossary_aliases_are_a_list_of_texts(tmp_path: Path) -> None:
    path = tmp_path / "glossary.yaml"
    path.write_text("宝坻: 宝坻区\n补贴: [补助, [津贴]]\n贷款: [借款]\n", encoding="utf-8")
    glossary = Glossary.load(path)
    assert [str(fault) for fault in glossary.faults] == [
        f"{path}:1: 术语“宝坻”的别名应是列表，例如 宝坻: [别名一, 别名二]",
        f"{path}:2: 术语“补贴”的别名中有一项不是文字或是空的",
    ]
    assert glossary.canonical["借款"] == "贷款"  # the other terms still read
