"""WeChat's XML bodies, read hardened: the envelope's ``Encrypt``, and a message's fields.

Both run on anything anyone posts to ``/wechat``, the scan for ``Encrypt`` even before the
request's ``msg_signature`` is checked, so each is one forward pass that refuses what WeChat
never sends: a DTD, an entity, a comment, a processing instruction, too many parts.
"""

from __future__ import annotations

import re
from xml.parsers import expat

__all__ = ["MAX_ELEMENTS", "MAX_ENVELOPE_PARTS", "Unreadable", "encrypt_of", "parse"]

MAX_ENVELOPE_PARTS = 256
"""Tags and CDATA sections the scan for ``Encrypt`` reads before it gives up (WeChat's
envelopes have a few dozen): it runs before anything is authenticated."""
MAX_ELEMENTS = 500
"""Elements a message may have (WeChat's have a few dozen): expat stops at the next one."""

_TRUSTED_START = re.compile(rb"\s*<xml[\s>]")
"""How every WeChat body starts (used with ``match``: one pass over the leading blanks)."""
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


class Unreadable(Exception):
    """The body is not a WeChat message we can read (answered ``success``, logged)."""


def encrypt_of(body: bytes) -> str | None:
    """The text of the envelope's ``<Encrypt>`` element, or ``None`` if there is not exactly one.

    This runs before ``msg_signature`` is checked, on anything anyone posts, so it is one
    forward scan: each step finds the next ``<``, ``>`` or ``]]>`` from where the last one
    stopped, and nothing is read twice. It knows CDATA sections (in compatible mode a user's
    words could contain ``<Encrypt>``) and stops after :data:`MAX_ENVELOPE_PARTS` parts or at
    anything WeChat never sends (comments, DTDs, processing instructions).
    """
    start = _TRUSTED_START.match(body)
    if start is None:
        return None
    at = body.find(b">", start.end() - 1) + 1  # past <xml …>
    if at == 0:
        return None
    depth = 1
    found: bytes | None = None
    text: list[bytes] | None = None  # inside <Encrypt>: its pieces so far
    for _ in range(MAX_ENVELOPE_PARTS):
        if depth == 0:
            break
        opening = body.find(b"<", at)
        if opening < 0:
            return None
        if text is not None:
            text.append(body[at:opening])
        if body.startswith(b"<![CDATA[", opening):
            closing = body.find(b"]]>", opening + 9)
            if closing < 0:
                return None
            if text is not None:
                text.append(body[opening + 9 : closing])
            at = closing + 3
            continue
        if body.startswith((b"<!", b"<?"), opening):
            return None
        end = body.find(b">", opening + 1)
        if end < 0:
            return None
        tag, at = body[opening + 1 : end], end + 1
        if text is not None:  # the tag after <Encrypt>'s text must close it
            if tag != b"/Encrypt" or found is not None:
                return None
            found, text = b"".join(text), None
            depth -= 1
        elif tag.startswith(b"/"):
            depth -= 1
        elif not tag.endswith(b"/"):
            depth += 1
            if depth == 2 and tag == b"Encrypt":
                text = []
    if depth > 0 or found is None:
        return None
    found = found.strip()
    if not found or found.translate(None, _BASE64):  # anything left is not base64
        return None
    return found.decode("ascii")


def parse(body: bytes) -> dict[str, str]:
    """The ``<xml>`` message as a flat dict: its children that hold text, by name.

    One pass of expat (linear in the body), refusing what WeChat never sends: a DTD, an entity
    (undeclared ones are expat's own error), a comment, a processing instruction, more than
    :data:`MAX_ELEMENTS` elements. A child with attributes or children of its own, or a name
    that repeats, is left out.

    Raises:
        Unreadable: Anything that is not a plain WeChat XML message.
    """
    if not _TRUSTED_START.match(body):
        raise Unreadable("not a plain <xml> document")
    reader = _FlatReader()
    parser = expat.ParserCreate(encoding="utf-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    for refused in (
        "StartDoctypeDeclHandler",
        "EntityDeclHandler",
        "ExternalEntityRefHandler",
        "CommentHandler",
        "ProcessingInstructionHandler",
    ):
        setattr(parser, refused, _refuse_markup)
    try:
        parser.Parse(body, True)
    except expat.ExpatError as error:
        raise Unreadable(f"XML error: {error}") from None
    return {name: value for name, value in reader.fields.items() if value is not None}


def _refuse_markup(*_: object) -> None:
    raise Unreadable("not a plain <xml> document (a DTD, an entity, a comment or a PI)")


class _FlatReader:
    """Collects the root's text children as expat reports them (see :func:`parse`)."""

    def __init__(self) -> None:
        self.fields: dict[str, str | None] = {}
        """Name → text; ``None`` for a child that is empty, nested, or not the only one."""
        self._depth = 0
        self._elements = 0
        self._plain = False
        self._text: list[str] = []

    def start(self, name: str, attributes: dict[str, str]) -> None:
        self._elements += 1
        if self._elements > MAX_ELEMENTS:
            # Each element costs a call into Python: stop before they add up.
            raise Unreadable(f"more than {MAX_ELEMENTS} elements")
        self._depth += 1
        if self._depth == 2:
            self._plain, self._text = not attributes, []
        elif self._depth > 2:
            self._plain = False

    def end(self, name: str) -> None:
        if self._depth == 2:
            value = "".join(self._text).strip() if self._plain else ""
            self.fields[name] = None if name in self.fields or not value else value
        self._depth -= 1

    def text(self, data: str) -> None:
        if self._depth == 2:
            self._text.append(data)
