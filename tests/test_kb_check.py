"""`python -m bot kb check` names file and line of every fault."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ENTRY, ROOT, write_faq

from knowledge.check import find_collisions
from knowledge.loader import load_directory
from knowledge.matcher import Matcher
from knowledge.text import Analyzer


def kb_check(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "kb", "check", str(directory)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )


def faults_of(directory: Path) -> list[str]:
    return [str(f) for f in load_directory(directory).faults]


def test_shipped_knowledge_base_is_valid() -> None:
    result = kb_check(ROOT / "knowledge" / "faq")
    assert result.returncode == 0, result.stderr
    assert "知识库检查通过" in result.stdout


def test_valid_directory_passes(faq_dir: Path) -> None:
    result = kb_check(faq_dir)
    assert result.returncode == 0, result.stderr
    assert "2 条" in result.stdout


def test_yaml_error_names_file_and_line(tmp_path: Path) -> None:
    path = write_faq(tmp_path, "broken.yaml", "- id: a\n  question: [unclosed\n  answer: x\n")
    result = kb_check(tmp_path)
    assert result.returncode == 1
    assert f"{path}:3: YAML 格式错误" in result.stderr


def test_duplicate_id_names_both_places(faq_dir: Path) -> None:
    second = write_faq(
        faq_dir,
        "b.yaml",
        "# another topic\n"
        + ENTRY.format(id="group-size", question="谁来解释", variant="谁解释", answer="市科委"),
    )
    result = kb_check(faq_dir)
    assert result.returncode == 1
    assert f"{second}:2: id“group-size”重复，第一次出现在 {faq_dir / 'a.yaml'}:9" in result.stderr


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


def test_top_level_must_be_a_list(tmp_path: Path) -> None:
    path = write_faq(tmp_path, "a.yaml", "id: x\nquestion: y\n")
    assert faults_of(tmp_path) == [f"{path}:1: 文件顶层应是条目列表（每条以“- id: …”开头）"]


def test_empty_directory_is_a_fault(tmp_path: Path) -> None:
    result = kb_check(tmp_path)
    assert result.returncode == 1
    assert "目录中没有 .yaml 文件" in result.stderr


def test_colliding_questions_name_both_lines(faq_dir: Path) -> None:
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
