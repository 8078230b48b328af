"""The bot's settings: one typed object read from ``BOT_*`` variables and a ``.env`` file.

``BOT_ENV_FILE`` names the file (default ``.env`` in the working folder); empty, none is read.
"""

from __future__ import annotations

import os
import re
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

import knowledge
from knowledge.cache import MATCH_CACHE_SIZE

__all__ = [
    "ENV_FILE",
    "WECOM_SETTINGS",
    "Settings",
    "SettingsError",
    "env_file",
    "load_settings",
]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///makerdesk.db"
ENV_FILE = "BOT_ENV_FILE"
"""The variable naming the ``.env`` file to read; empty: none (the tests, the benchmarks)."""

Port = Annotated[int, Field(ge=0, le=65535)]
WECOM_SETTINGS = ("wecom_corp_id", "wecom_agent_id", "wecom_secret", "wecom_token", "wecom_aes_key")
"""The WeCom channel's settings, which are set all together or not at all."""


class SettingsError(Exception):
    """Raised when a setting has a value the bot cannot start with; names the variable."""


class Settings(BaseSettings):
    """Everything an operator may set. Environment variables win over ``.env``."""

    model_config = SettingsConfigDict(
        env_prefix="BOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    database_url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy async URL: ``sqlite+aiosqlite:///file.db`` or ``postgresql+asyncpg://…``."""

    knowledge_dir: Path = Path(knowledge.__file__).parent / "faq"
    """Folder of FAQ YAML files; the curated base that ships with the bot by default."""

    match_cache_size: Annotated[int, Field(ge=0)] = MATCH_CACHE_SIZE
    """Questions whose reading and match the knowledge base keeps, so one asked again word for
    word is answered without the matcher; ``0`` keeps none. A reload empties it."""

    roster: Path | None = None
    """The roster file: districts, maker spaces, duty groups, supervisors, admins."""

    calendar: Path | None = None
    """Working-day overrides that win over the official calendar."""

    http_host: str = "127.0.0.1"
    """Address the HTTP server binds; loopback unless you put a reverse proxy in front."""

    http_port: Port = 8080
    """Port of the HTTP server (web chat, console, webhooks, health). ``0``: a free port the
    system picks; the server prints ``listening on http://HOST:PORT`` on stdout either way."""

    telegram_token: SecretStr | None = None
    """Bot token from @BotFather; unset means no Telegram channel."""

    telegram_api_url: str = "https://api.telegram.org"
    """Bot API root; the bot calls ``{root}/bot{token}/{method}`` (self-hosted servers work)."""

    telegram_webhook_url: str | None = None
    """Public HTTPS address of this server (``https://bot.example.cn``); Telegram then posts
    updates to ``{url}/telegram``. Unset: the bot long-polls, no public address needed."""

    telegram_webhook_secret: SecretStr | None = None
    """Secret Telegram sends with every webhook call; derived from the token when unset."""

    wechat_token: SecretStr | None = None
    """Token of the Official Account's server configuration; unset means no WeChat channel."""

    wechat_app_id: str | None = None
    """AppID of the Official Account."""

    wechat_app_secret: SecretStr | None = None
    """AppSecret of the Official Account."""

    wechat_aes_key: SecretStr | None = None
    """EncodingAESKey (43 characters) for safe mode."""

    wechat_api_url: str = "https://api.weixin.qq.com"
    """WeChat API root."""

    wechat_notice_template: str | None = None
    """Template id of the "a reply is waiting" notice, for users outside the 48-hour window
    (needs a verified Service Account); unset: no notice, the reply still waits."""

    wechat_notice_kind: Literal["template", "subscription"] = "template"
    """``template`` (``message/template/send``) or ``subscription`` (``subscribe/bizsend``)."""

    wechat_notice_fields: Annotated[tuple[tuple[str, str], ...], NoDecode] = (
        ("first", "text"),
        ("keyword1", "number"),
        ("keyword2", "time"),
    )
    """The template's fields and what fills them, ``field=what`` separated by commas, where
    ``what`` is ``text`` (the notice), ``number`` (the request), ``time`` or fixed words."""

    wecom_corp_id: str | None = None
    """WeCom (企业微信) CorpID (我的企业 → 企业信息 → 企业ID); unset means no WeCom channel. The
    six ``BOT_WECOM_*`` settings (the API root aside) are set all together or not at all."""

    wecom_agent_id: Annotated[int, Field(ge=1)] | None = None
    """The self-built app's AgentId (应用管理 → the app)."""

    wecom_secret: SecretStr | None = None
    """The app's Secret, for ``gettoken``."""

    wecom_token: SecretStr | None = None
    """The *Token* of the app's callback settings (接收消息 → 设置API接收)."""

    wecom_aes_key: SecretStr | None = None
    """The *EncodingAESKey* (43 characters) beside it; WeCom encrypts every callback."""

    wecom_api_url: str = "https://qyapi.weixin.qq.com"
    """WeCom API root."""

    chromium: str | None = None
    """Chromium to print the report's PDF with (a path or a command); unset: the first of
    ``chromium``, ``chromium-browser`` or ``google-chrome`` on PATH. Without one, ``/report``
    sends the HTML report instead."""

    outbox_lease: Annotated[float, Field(ge=5, le=3600)] = 60.0
    """Seconds a process keeps the outgoing messages it took: after a crash, another process
    sends them once this has passed. Longer than the slowest delivery (a report's upload)."""

    web_chat: bool = True
    """Serve the local web chat (the Internet intake channel of Article 6)."""

    public_url: str | None = None
    """The public address of this server as browsers see it (``https://bot.example.cn``). With
    ``https://`` the web chat's and the console's cookies are marked ``Secure``, which the bot
    cannot tell by itself behind a proxy that ends TLS."""

    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    """Your own reverse proxies, as addresses or networks separated by commas
    (``127.0.0.1,10.0.0.0/8``). Only a request from one of them has its ``X-Forwarded-For``
    believed, to find the visitor's address for the web chat's rate limit. Empty: trust no one,
    the peer's address is the visitor's."""

    retention_days: Annotated[int, Field(ge=1)] = 180
    """Days the bot keeps the questions it was asked (answered or not) and the outgoing
    messages it finished with. Requests and their history are kept for good."""

    files_dir: Path | None = None
    """Where files carried between channels are kept (a photo from Telegram on its way to
    WeChat); unset: ``files`` beside the SQLite database, or in the working folder."""

    files_max_mb: Annotated[int, Field(ge=1, le=200)] = 20
    """The largest file, in MB, the bot carries from one channel to another."""

    files_days: Annotated[int, Field(ge=1)] = 30
    """Days a carried file is kept; the retention job forgets older ones (a link to one
    fetches it again while its platform still has it)."""

    files_secret: SecretStr | None = None
    """The key that signs links to carried files (``/files/…``). Unset: one the bot makes and
    keeps in its database, shared by every process."""

    log_format: Literal["text", "json"] = "text"
    """``text`` for a terminal; ``json`` writes one JSON object a line for a log collector."""

    log_level: str = "INFO"
    """Python logging level name."""

    @field_validator("http_host")
    @classmethod
    def _host_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB")
        return value

    @field_validator("telegram_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith("https://") and not value.startswith("http://127.0.0.1"):
            raise ValueError("Telegram calls webhooks over HTTPS only: use https://…")
        return value.strip().rstrip("/")

    @field_validator("telegram_api_url", "wechat_api_url", "wecom_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def served_over_https(self) -> bool:
        """Browsers reach the bot by HTTPS (``BOT_PUBLIC_URL``): cookies go out ``Secure``."""
        return self.public_url is not None and self.public_url.startswith("https://")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        url = urlsplit(value.strip())
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("write the address browsers use: https://bot.example.cn")
        if url.query or url.fragment or url.username or url.password:
            raise ValueError("only scheme, host, port and path: https://bot.example.cn")
        return url.geturl().rstrip("/")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        networks = []
        for item in value.split(","):
            if not item.strip():
                continue
            try:
                networks.append(ip_network(item.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"{item.strip()!r} is not an address or network: write 10.0.0.5,10.1.0.0/16"
                ) from None
        return tuple(networks)

    @field_validator("knowledge_dir")
    @classmethod
    def _directory_exists(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"{value} is not a folder")
        return value

    @field_validator("roster", "calendar")
    @classmethod
    def _file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file")
        return value

    @field_validator("wechat_notice_fields", mode="before")
    @classmethod
    def _notice_fields(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs = []
        for item in value.split(","):
            field, _, what = item.partition("=")
            if not field.strip() or not what.strip():
                raise ValueError("write field=what pairs: thing1=text,character_string2=number")
            pairs.append((field.strip(), what.strip()))
        return tuple(pairs)

    @field_validator("wechat_aes_key")
    @classmethod
    def _aes_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not info.data.get("wechat_app_id"):
            raise ValueError("safe mode decrypts with the AppID: set BOT_WECHAT_APP_ID too")
        key = value.get_secret_value().strip()
        if len(key) != 43 or not re.fullmatch(r"[A-Za-z0-9+/]{43}", key):
            raise ValueError("the EncodingAESKey is 43 letters and digits, as WeChat shows it")
        return SecretStr(key)

    @field_validator("wecom_aes_key")
    @classmethod
    def _wecom_aes_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        key = value.get_secret_value().strip()
        if not re.fullmatch(r"[A-Za-z0-9+/]{43}", key):
            raise ValueError("the EncodingAESKey is 43 letters and digits, as WeCom shows it")
        return SecretStr(key)

    @field_validator("wecom_corp_id", "wecom_secret", "wecom_token", mode="before")
    @classmethod
    def _wecom_blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _wecom_all_or_nothing(self) -> Settings:
        given = {name: getattr(self, name) is not None for name in WECOM_SETTINGS}
        if any(given.values()) and not all(given.values()):
            missing = ", ".join(f"BOT_{name.upper()}" for name, set_ in given.items() if not set_)
            raise ValueError(f"the WeCom channel needs all of its settings: set {missing} too")
        return self

    @property
    def files_folder(self) -> Path:
        """Where carried files are kept: ``BOT_FILES_DIR``, else beside the SQLite database."""
        if self.files_dir is not None:
            return self.files_dir
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            return Path(self.database_url.removeprefix(prefix)).parent / "files"
        return Path("files")

    @property
    def wecom(self) -> bool:
        """Whether the WeCom channel is configured (every ``BOT_WECOM_*`` setting is set)."""
        return self.wecom_corp_id is not None

    @field_validator("wechat_notice_template")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("log_level")
    @classmethod
    def _level_name(cls, value: str) -> str:
        name = value.upper()
        if name not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return name


def env_file() -> str | None:
    """The ``.env`` file :func:`load_settings` reads: as :data:`ENV_FILE` says, else ``.env``."""
    return os.environ.get(ENV_FILE, ".env") or None


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one message per bad variable.

    Args:
        **overrides: Values that win over the environment (used by the CLI and tests);
            ``_env_file`` names the ``.env`` file instead of :func:`env_file` (``None``: none).

    Raises:
        SettingsError: A variable holds a value the bot cannot use; the message names it.
    """
    try:
        return Settings(**{"_env_file": env_file(), **overrides})  # type: ignore[arg-type]
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            if not problem["loc"]:  # a check across settings: its message names them
                lines.append(str(problem["msg"]).removeprefix("Value error, "))
                continue
            field = str(problem["loc"][0])
            lines.append(f"BOT_{field.upper()}: {problem['msg']}")
        raise SettingsError("\n".join(lines)) from None
