"""Files that cross channels.

A file is fetched from the platform it was sent on, kept on disk, and uploaded to the platform
it goes to, or linked to with a signed link.
"""

from bot.files.carrier import Fetched, FileCarrier, FileSource, SourceError, UploadsOnly
from bot.files.carry import carry, needs_carrying
from bot.files.kinds import FileKind, Unwelcome, sniff
from bot.files.limits import DOWNLOAD_LIMITS, MB, UPLOADS, Upload, upload_as
from bot.files.links import CHAT_LINK_LIFETIME, PAGE_LINK_LIFETIME, FileLinks, LinkedFile
from bot.files.store import FileRefused, FileStore, StoredFile
from bot.files.uploads import PICTURES, keep_upload

__all__ = [
    "CHAT_LINK_LIFETIME",
    "DOWNLOAD_LIMITS",
    "MB",
    "PAGE_LINK_LIFETIME",
    "PICTURES",
    "UPLOADS",
    "Fetched",
    "FileCarrier",
    "FileKind",
    "FileLinks",
    "FileRefused",
    "FileSource",
    "FileStore",
    "LinkedFile",
    "SourceError",
    "StoredFile",
    "Unwelcome",
    "Upload",
    "UploadsOnly",
    "carry",
    "keep_upload",
    "needs_carrying",
    "sniff",
    "upload_as",
]
