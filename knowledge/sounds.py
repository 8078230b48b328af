"""Homophone typos: the characters an input method picks by mistake for the same pinyin.

Most typos in Chinese chat are not missing keys but the wrong character with the right sound
(专圆 for 专员, 孵化起 for 孵化器, 补帖 for 补贴). Comparing toneless pinyin finds them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from functools import cache

from pypinyin.pinyin_dict import pinyin_dict

__all__ = ["SoundCorrector", "sound_of"]

_LONGEST = 6


@cache
def _table() -> dict[str, str]:
    table = {}
    for codepoint, readings in pinyin_dict.items():
        first = readings.split(",", 1)[0]
        plain = "".join(
            c for c in unicodedata.normalize("NFD", first) if not unicodedata.combining(c)
        )
        table[chr(codepoint)] = plain.replace("ü", "v")
    return table


def sound_of(text: str) -> tuple[str, ...] | None:
    """Toneless pinyin of each character, or None if one has no reading."""
    table = _table()
    sounds = []
    for char in text:
        sound = table.get(char)
        if sound is None:
            return None
        sounds.append(sound)
    return tuple(sounds)


class SoundCorrector:
    """Replaces a stretch that sounds like a known word but is written as no word at all."""

    def __init__(
        self,
        vocabulary: Iterable[str],
        is_word: Callable[[str], bool],
        function_chars: Iterable[str] = (),
    ) -> None:
        """Learn the sounds of ``vocabulary``.

        Args:
            vocabulary: The words worth correcting to (the knowledge base's own words).
            is_word: Whether a string is a real word as written; real words are never
                "corrected", so 失业 does not become 事业.
            function_chars: Characters such as 是, 的, 了 that are never the typo: "是干啥"
                is not a misspelt 实干.
        """
        self._function_chars = frozenset(function_chars)
        sounds: dict[tuple[str, ...], str | None] = {}
        for word in vocabulary:
            if 2 <= len(word) <= _LONGEST and (key := sound_of(word)) is not None:
                # Two words with one sound: no way to tell which was meant; leave it alone.
                sounds[key] = word if sounds.get(key, word) == word else None
        self._sounds = {k: w for k, w in sounds.items() if w is not None}
        self._known = frozenset(vocabulary)
        self._is_word = is_word
        # Where a stretch of a given length can start: with the first character of a known
        # word of that length, or with a character that sounds as a word of the table begins.
        # Elsewhere no length finds anything, so :meth:`correct` tries only these.
        starts: dict[str, set[int]] = {}
        for known in self._known:
            if 2 <= len(known) <= _LONGEST:
                starts.setdefault(known[0], set()).add(len(known))
        by_sound: dict[str, set[int]] = {}
        for key in self._sounds:
            by_sound.setdefault(key[0], set()).add(len(key))
        for char, sound in _table().items():
            if sound in by_sound:
                starts.setdefault(char, set()).update(by_sound[sound])
        self._sizes_at = {c: tuple(sorted(sizes, reverse=True)) for c, sizes in starts.items()}
        """The lengths worth trying from each character, longest first."""

    def correct(self, text: str) -> str:
        """``text`` with homophone typos of known words replaced, longest first."""
        if not self._sounds:
            return text
        table = _table()
        keys = [table.get(c) for c in text]
        sizes_at = self._sizes_at
        out = []
        i, n = 0, len(text)
        while i < n:
            # Longest first as before, skipping the lengths that would find nothing here.
            for size in sizes_at.get(text[i], ()):
                if size > n - i:
                    continue
                written = text[i : i + size]
                if written in self._known:
                    out.append(written)  # a word as written is never "corrected"
                    i += size
                    break
                key = keys[i : i + size]
                if None in key:
                    continue
                word = self._sounds.get(tuple(key))  # type: ignore[arg-type]
                if word and self._near(written, word) and not self._is_word(written):
                    out.append(word)
                    i += size
                    break
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def _near(self, written: str, word: str) -> bool:
        """A typo changes a content character or two, not the whole word (订一 is not 定义)."""
        changed = [a for a, b in zip(written, word, strict=True) if a != b]
        if any(c in self._function_chars for c in changed):
            return False
        return len(changed) <= max(1, len(word) // 3)
