"""FAQ files for tests."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ENTRY", "write_faq"]

ENTRY = """\
- id: {id}
  question: {question}
  variants:
    - {variant}
  answer: |
    {answer}
  source: 津科创〔2015〕51号 第七条
  category: commissioners
"""
"""One FAQ entry, to fill in with ``str.format``."""


def write_faq(directory: Path, name: str, text: str) -> Path:
    """Write the FAQ file ``name`` in ``directory`` (made if missing); its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path
