"""What a file is, judged by its first bytes, never by its name or the sender's word.

The bot carries pictures (JPEG, PNG, GIF, WebP), PDF, Office documents and ZIP archives
between people. Anything else, and executables above all, stays where it was sent: a
commissioner must not be handed a program in the name of an entrepreneur, nor the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FileKind", "Unwelcome", "sniff"]

_OOXML = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_OLE = {
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "wps": "application/vnd.ms-works",
    "et": "application/vnd.ms-excel",
}
_PROGRAMS = frozenset(
    {"exe", "dll", "com", "scr", "msi", "bat", "cmd", "ps1", "vbs", "js", "jar", "apk", "sh"}
)
"""Extensions refused whatever the bytes say (a JAR or an APK is a ZIP inside)."""
_EXECUTABLE_MAGIC = (
    b"MZ",  # Windows
    b"\x7fELF",  # Linux
    b"\xfe\xed\xfa",  # macOS, big-endian
    b"\xce\xfa\xed\xfe",  # macOS, little-endian
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # macOS universal, or a Java class
    b"#!",  # a script
    b"dex\n",  # Android
)


class Unwelcome(Exception):
    """The file is not one the bot carries; ``reason`` is ``executable`` or ``unknown``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FileKind:
    """A file's media type and the extension it goes by."""

    media_type: str
    extension: str


def sniff(head: bytes, name: str | None) -> FileKind:
    """The kind of the file that starts with ``head`` (its first 16 bytes are enough).

    Args:
        head: The file's first bytes.
        name: The file's name as sent, which only tells Office formats that share a container.

    Raises:
        Unwelcome: An executable, or a kind the bot does not carry.
    """
    extension = (name or "").rpartition(".")[2].lower() if name and "." in name else ""
    if extension in _PROGRAMS or head.startswith(_EXECUTABLE_MAGIC):
        raise Unwelcome("executable")
    if head.startswith(b"\xff\xd8\xff"):
        return FileKind("image/jpeg", "jpg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileKind("image/png", "png")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return FileKind("image/gif", "gif")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileKind("image/webp", "webp")
    if head.startswith(b"%PDF-"):
        return FileKind("application/pdf", "pdf")
    if head.startswith(b"PK\x03\x04"):
        if extension in _OOXML:
            return FileKind(_OOXML[extension], extension)
        return FileKind("application/zip", "zip")
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        extension = extension if extension in _OLE else "doc"
        return FileKind(_OLE[extension], extension)
    raise Unwelcome("unknown")
