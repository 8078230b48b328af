"""`python -m bot kb check` names file and line of every fault."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from knowledge.check import find_collisions
from knowledge.loader import load_directory
from knowledge.matcher import Matcher
from knowledge.service import KnowledgeError, build
from knowledge.text import Analyzer, Glossary, normalize
from tests.support import ROOT
from tests.support.cli import Cli, run_cli
from tests.support.knowledge import ENTRY, write_faq

Check = Callable[[Path], subprocess.CompletedProcess[str]]


@pytest.fixture
def kb_check(cli: Cli) -> Check:
    """``python -m bot kb check DIRECTORY`` run in process."""
    return lambda directory: cli("kb", "check", str(directory))


def faults_of(directory: Path) -> list[str]:
    return [str(f) for f in load_directory(directory).faults]


@pytest.mark.slow
def test_shipped_knowledge_base_is_valid() -> None:
    result = run_cli("kb", "check", str(ROOT / "knowledge" / "faq"))  # the command's smoke test
    assert result.returncode == 0, result.stderr
    assert "知识库检查通过" in result.stdout


def test_valid_directory_passes(faq_dir: Path, kb_check: Check) -> None:
    result = kb_check(faq_dir)
    assert result.returncode == 0, result.stderr
    assert "2 条" in result.stdout


def test_yaml_error_names_file_and_line(tmp_path: Path, kb_check: Check) -> None:
    path = write_faq(tmp_path, "broken.yaml", "- id: a\n  question: [unclosed\n  answer: x\n")
    result = kb_check(tmp_path)
    assert result.returncode == 1
    assert f"{path}:3: YAML 格式错误" in result.stderr


def test_duplicate_id_names_both_places(faq_dir: Path, kb_check: Check) -> None:
    second = write_faq(
        faq_dir,
        "b.yaml",
        "# another topic\n"
        + ENTRY.format(id="group-size", question="谁来解释", variant="谁解释", answer="市科委"),
    )
    result = kb_check(faq_dir)
    assert result.returncode == 1
    assert f"{second}:2: id“group-size”重复，第一次出现在 {faq_dir / 'a.yaml'}:9" in result.stderr


def test_a_repeated_id_shows_in_the_same_run_as_the_entries_other_faults(tmp_path: Path) -> None:
    # The first-use review's case: one entry lacks its source, its id is written again, and a
    # third entry misspells a field. Every one of the three is named at once.
    path = write_faq(
        tmp_path,
        "a.yaml",
        "- id: one\n  question: 公司注册需要什么材料\n  answer: 带上身份证。\n"
        "- id: one\n  question: 房租补贴怎么申请\n  answer: 找空间。\n  source: 第六条\n"
        "- id: two\n  question: 专利申请要多久\n  answer: 半年。\n  source: 第六条\n"
        "  sorce: 第六条\n",
    )
    assert faults_of(tmp_path) == [
        f"{path}:1: 条目缺少必填字段“source”",
        f"{path}:4: id“one”重复，第一次出现在 {path}:1",
        f"{path}:12: 未知字段“sorce”（可用字段：id、question、answer、source、variants、category、"
        "answers、en、silent）",
    ]


def test_missing_field_and_empty_answer(tmp_path: Path) -> None:
    path = write_faq(
        tmp_path,
        "a.yaml",
        "- id: no-source\n  question: 问题一\n  answer: 答案\n"
        "- id: empty-answer\n  question: 问题二\n  answer: ''\n  source: 第七条\n",
    )
    faults = faults_of(tmp_path)
    assert f"{path}:1: 条目缺少必填字段“source”" in faults
    assert f"{path}:6: 字段“answer”不能为空" in faults


def test_unknown_field_and_bad_id_and_wrong_shapes(tmp_path: Path) -> None:
    path = write_faq(
        tmp_path,
        "a.yaml",
        "- id: Bad_ID\n  question: 问题\n  varients: [x]\n  answer: 答\n  source: 第七条\n"
        "- just a string\n"
        "- id: listy\n  question: [a, b]\n  answer: 答\n  source: 第七条\n  variants: 一句\n",
    )
    faults = faults_of(tmp_path)
    assert any(f.startswith(f"{path}:1: id“Bad_ID”") for f in faults)
    assert any(f.startswith(f"{path}:3: 未知字段“varients”") for f in faults)
    assert f"{path}:6: 条目应是“字段: 值”的映射" in faults
    assert f"{path}:8: 字段“question”应是一段文字" in faults
    assert any(f.startswith(f"{path}:11: variants 应是文字列表") for f in faults)


def test_an_english_side_and_answer_kinds_are_read_with_their_lines(tmp_path: Path) -> None:
    write_faq(
        tmp_path,
        "a.yaml",
        "- id: reply-time\n  question: 多久回复\n  answer: 10个工作日内。\n  source: 第七条\n"
        "  answers: [how-long, when]\n"
        "  en:\n    question: How long until I hear back?\n"
        "    variants:\n      - when will they reply\n"
        "    answer: Within 10 working days.\n",
    )
    (entry,) = load_directory(tmp_path).entries
    assert {kind.value for kind in entry.answers} == {"how-long", "when"}
    assert entry.english is not None
    assert entry.english.answer == "Within 10 working days."
    assert [(p.text, p.line) for p in entry.phrasings[1:]] == [
        ("How long until I hear back?", 7),
        ("when will they reply", 9),
    ]


def test_faults_of_the_english_side_and_answer_kinds_name_their_lines(tmp_path: Path) -> None:
    path = write_faq(
        tmp_path,
        "a.yaml",
        "- id: a\n  question: 问题\n  answer: 答\n  source: 第七条\n"
        "  answers: [how-much, price]\n"
        "  en:\n    question: How much?\n    anser: typo\n    variants: one\n"
        "- id: b\n  question: 问题二\n  answer: 答\n  source: 第七条\n  en: just text\n",
    )
    faults = faults_of(tmp_path)
    assert any(f.startswith(f"{path}:5: answers 中的“price”不是已知的问题类型") for f in faults)
    assert any(f.startswith(f"{path}:8: en 中的未知字段“anser”") for f in faults)
    assert f"{path}:7: en 缺少必填字段“answer”" in faults
    assert any(f.startswith(f"{path}:9: en.variants 应是文字列表") for f in faults)
    assert f"{path}:14: en 应是“question / variants / answer”的映射" in faults


def test_top_level_must_be_a_list(tmp_path: Path) -> None:
    path = write_faq(tmp_path, "a.yaml", "id: x\nquestion: y\n")
    assert faults_of(tmp_path) == [f"{path}:1: 文件顶层应是条目列表（每条以“- id: …”开头）"]


def test_empty_directory_is_a_fault(tmp_path: Path, kb_check: Check) -> None:
    result = kb_check(tmp_path)
    assert result.returncode == 1
    assert "目录中没有 .yaml 文件" in result.stderr


def test_colliding_questions_name_both_lines(faq_dir: Path, kb_check: Check) -> None:
    # Same meaningful words as reply-deadline's question once folded (traditional, punctuation).
    path = write_faq(
        faq_dir,
        "b.yaml",
        ENTRY.format(
            id="reply-time",
            question="服務專員多久給我反饋結果",
            variant="回复要几天",
            answer="十个工作日",
        ),
    )
    result = kb_check(faq_dir)
    assert result.returncode == 1
    assert f"{path}:2: “服務專員多久給我反饋結果”与 reply-deadline（{faq_dir / 'a.yaml'}:2）" in (
        result.stderr
    )


def test_collision_check_ignores_phrasings_of_one_entry(faq_dir: Path) -> None:
    write_faq(
        faq_dir,
        "b.yaml",
        ENTRY.format(
            id="onsite", question="每周现场办公几天", variant="每周现场办公几天？", answer="1天"
        ),
    )
    matcher = Matcher(load_directory(faq_dir).entries, Analyzer.default())
    assert find_collisions(matcher) == []


def test_the_glossary_names_a_term_defined_twice_and_an_alias_that_swallows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "glossary.yaml"
    path.write_text(
        "北大科技园: [pku science park, 北大科技圆]\n"
        "宝坻: [宝坻区]\n"
        "区科委: [区科学技术委员会]\n"
        "北大科技园: [北大]\n"
        "补贴: [补助]\n"
        "贷款: [补助]\n",
        encoding="utf-8",
    )
    glossary = Glossary.load(path)
    faults = [str(fault) for fault in glossary.faults]
    assert (
        f"{path}:4: 术语“北大科技园”定义了两次（第一次在第 1 行）：两处的别名已合并，请写成一处"
        in faults
    )
    assert any(
        f.startswith(f"{path}:2: 别名“宝坻区”会吞掉“区科委”的开头：“宝坻区科委”会读成“宝坻 科委”")
        for f in faults
    )
    assert any(f.startswith(f"{path}:5: 别名“补助”同时属于“补贴”和“贷款”") for f in faults)
    # Nothing of the first definition is lost.
    assert glossary.canonical["北大科技圆"] == glossary.canonical["北大"] == "北大科技园"


def test_the_shipped_glossary_is_clean() -> None:
    assert Glossary.load(ROOT / "knowledge" / "data" / "glossary.yaml").faults == ()


def test_every_fault_of_the_base_is_reported_in_one_run(tmp_path: Path) -> None:
    glossary = tmp_path / "glossary.yaml"
    glossary.write_text("宝坻: [宝坻区]\n区科委: [区科学技术委员会]\n", encoding="utf-8")
    faq = tmp_path / "faq"
    write_faq(
        faq,
        "a.yaml",
        ENTRY.format(id="a", question="服务专员多久回复", variant="专员几天回", answer="十天")
        + ENTRY.format(id="b", question="服务专员多久回复", variant="多久答复", answer="十天")
        + "- id: c\n  question: 问题\n  answer: 答\n",
    )
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "documents.yaml").write_text(
        "- number: 津科创〔2015〕51号\n  title: 办法\n  status: expired\n", encoding="utf-8"
    )
    analyzer = Analyzer(Glossary.load(glossary))
    with pytest.raises(KnowledgeError) as raised:
        build(faq, analyzer)
    faults = [str(fault) for fault in raised.value.faults]
    assert any("吞掉" in f for f in faults)  # the glossary
    assert any("缺少必填字段“source”" in f for f in faults)  # a field
    assert any("status 应是" in f for f in faults)  # the document list
    assert any("无法区分" in f for f in faults)  # two entries alike


def test_no_glossary_alias_breaks_a_term_of_the_policy() -> None:
    # 大学 (→ 高校) inside 大学生 read "大学生小额担保贷款" as "高校 生小额…".
    analyzer = Analyzer.default()
    terms = (ROOT / "knowledge" / "data" / "terms.txt").read_text(encoding="utf-8")
    broken = [
        (term, analyzer.fold(term))
        for line in terms.splitlines()
        for term in line.split("#", 1)[0].split()
        if term not in analyzer.glossary.canonical
        and analyzer.fold(term).replace(" ", "") != normalize(term).replace(" ", "")
    ]
    assert broken == []
