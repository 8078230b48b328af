"""The signatures WeChat and WeCom put on their callbacks, and comparing them safely."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["same", "sha1_signature"]


def sha1_signature(*parts: str) -> str:
    """WeChat's and WeCom's signatures: SHA-1 of the parts sorted and joined (hex)."""
    # SHA-1 is the platforms' choice, not ours: they sign with it.
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324


def same(expected: str, given: str) -> bool:
    """Whether a signature matches, in time that does not depend on where they differ.

    wechatpy compares with ``!=``, which stops at the first differing character.
    """
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
