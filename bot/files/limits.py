"""Each platform's file limits, in one table: what the bot may upload where, and how big.

The figures are the platforms' own documentation's (checked 2025):

- Telegram Bot API (https://core.telegram.org/bots/api#sending-files, ``#getfile``): a bot
  uploads photos up to 10 MB and other files up to 50 MB, and downloads files up to 20 MB.
- WeChat Official Account, temporary media (``/cgi-bin/media/upload``,
  https://developers.weixin.qq.com/doc/offiaccount/en/Asset_Management/New_temporary_materials.html):
  image 2 MB (PNG, JPEG, GIF), voice 2 MB, video 10 MB, thumbnail 64 KB. A customer-service
  message carries an image, voice or video but no document: a document reaches a WeChat user
  as a link.
- WeCom (企业微信) temporary media (https://developer.work.weixin.qq.com/document/path/91054):
  image 10 MB (JPG, PNG), voice 2 MB (AMR), video 10 MB (MP4), file 20 MB; every file more than
  5 bytes. An app message carries an image or a file.

The README's table says the same; keep them together.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.messages import Channel

__all__ = ["DOWNLOAD_LIMITS", "MB", "UPLOADS", "Upload", "upload_as"]

MB = 1024 * 1024

_PICTURES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


@dataclass(frozen=True, slots=True)
class Upload:
    """One way a platform takes an uploaded file.

    Attributes:
        as_: The platform's name for it: Telegram's method, WeChat's or WeCom's media type.
        limit: The largest file it takes, in bytes.
        types: The media types it takes; empty: any.
    """

    as_: str
    limit: int
    types: frozenset[str] = frozenset()

    def takes(self, media_type: str, size: int) -> bool:
        """Whether a file of ``media_type`` and ``size`` bytes goes this way."""
        return size <= self.limit and (not self.types or media_type in self.types)


UPLOADS: dict[Channel, tuple[tuple[frozenset[str], Upload], ...]] = {
    Channel.TELEGRAM: (
        (frozenset({"photo"}), Upload("sendPhoto", 10 * MB, _PICTURES - {"image/gif"})),
        (frozenset({"photo", "document", "video", "voice"}), Upload("sendDocument", 50 * MB)),
    ),
    Channel.WECHAT: (
        (frozenset({"photo"}), Upload("image", 2 * MB, frozenset({"image/jpeg", "image/png"}))),
    ),
    Channel.WECOM: (
        (frozenset({"photo"}), Upload("image", 10 * MB, frozenset({"image/jpeg", "image/png"}))),
        (frozenset({"photo", "document", "video", "voice"}), Upload("file", 20 * MB)),
    ),
}
"""Per channel, in order of preference: the attachment kinds a way takes, and the way."""

DOWNLOAD_LIMITS: dict[Channel, int] = {Channel.TELEGRAM: 20 * MB}
"""The largest file the bot may fetch from a platform (where the platform says)."""


def upload_as(channel: Channel, kind: str, media_type: str, size: int) -> str | None:
    """How ``channel`` takes a file of ``kind``, ``media_type`` and ``size``; ``None``: it cannot.

    Args:
        channel: Where the file goes.
        kind: The attachment's kind (``photo``, ``document``…).
        media_type: Its media type, as its bytes say (:func:`bot.files.kinds.sniff`).
        size: Its size in bytes.
    """
    for kinds, upload in UPLOADS.get(channel, ()):
        if kind in kinds and upload.takes(media_type, size):
            return upload.as_
    return None
