"""A fake Telegram Bot API server on 127.0.0.1 for tests that drive the real bot.

It speaks ``{root}/bot{token}/{method}`` with JSON, url-encoded or multipart parameters (PTB sends
every call as a form, JSON-encoding each non-string value), answers in Telegram's envelope, keeps
just enough state (messages, updates, webhook, files) to be believable, and records every call.

    async with FakeTelegram(token="123:ABC") as fake:
        bot = telegram.Bot("123:ABC", base_url=f"{fake.root}/bot",
                           base_file_url=f"{fake.root}/file/bot")
        fake.private_message(42, "/start")
        ...
        call = await fake.wait_for(lambda c: c.method == "sendMessage")

Sync tests: ``with FakeTelegram(...).in_thread() as fake:`` runs it on a loop of its own; the
update builders and ``fake.calls`` are safe there, and ``fake.wait_for_sync`` waits.

Like Telegram, one ``getUpdates`` is served at a time: a new one ends the pending one with 409
Conflict. ``fake.polls`` records every ``getUpdates`` (when it began and ended, and how), and
``fake.conflicts`` counts the 409s given; a poll whose client hung up ends as ``gone``, not as
a conflict, since nobody is left to receive the 409.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Self

import aiohttp
from aiohttp import web

from tests.support.fake_platform import FakePlatform, outbox_id

__all__ = [
    "BOOL_FIELDS",
    "INT_FIELDS",
    "JSON_FIELDS",
    "NOT_MODIFIED",
    "STANDARD_ERRORS",
    "WEBHOOK_CONFLICT",
    "ApiError",
    "Call",
    "FakeTelegram",
    "Json",
    "Poll",
    "Upload",
]

Json = dict[str, Any]

# PTB form-encodes parameters: strings raw, everything else as JSON. Decode by field name.
INT_FIELDS = frozenset(
    {"chat_id", "from_chat_id", "message_id", "offset", "limit", "timeout", "user_id",
     "reply_to_message_id", "cache_time", "max_connections", "message_thread_id"}
)  # fmt: skip
BOOL_FIELDS = frozenset(
    {"show_alert", "drop_pending_updates", "disable_notification", "protect_content",
     "allow_sending_without_reply", "disable_web_page_preview", "has_spoiler"}
)  # fmt: skip
JSON_FIELDS = frozenset(
    {"reply_markup", "allowed_updates", "commands", "scope", "entities", "caption_entities",
     "reply_parameters", "link_preview_options"}
)  # fmt: skip
STANDARD_ERRORS = {
    400: "Bad Request: chat not found",
    403: "Forbidden: bot was blocked by the user",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    502: "Bad Gateway",
}
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """A Telegram error answer: ``{"ok": false, "error_code": …, "description": …}``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after

    def body(self) -> Json:
        """The JSON body Telegram would answer with."""
        body: Json = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Call:
    """One API call as the fake saw it; ``status`` 200 means it succeeded.

    ``outbox_id`` is the outbox row the bot said the call delivers (its ``X-MakerDesk-Outbox``
    header), ``None`` for a call without one (and for a method in a webhook's response).
    """

    method: str
    params: dict[str, Any]
    at: datetime
    status: int = 200
    result: Any = None
    outbox_id: int | None = None


@dataclass
class _Failure:
    method: str
    chat_id: int | str | None
    error: ApiError
    times: int


@dataclass
class _Queued:
    update: Json
    redelivery: bool = False
    delivered: bool = False


@dataclass
class Poll:
    """One ``getUpdates`` as the fake saw it; ``outcome`` is ``waiting`` until it ends.

    Outcomes: ``updates`` (it returned some), ``empty`` (timed out or the fake stopped),
    ``conflict`` (a newer ``getUpdates`` ended it with 409), ``gone`` (its client hung up),
    ``webhook`` (refused while a webhook is set).
    """

    offset: int
    started: datetime
    ended: datetime | None = None
    outcome: str = "waiting"
    update_ids: tuple[int, ...] = ()

    def finish(self, outcome: str, updates: list[Json] | None = None) -> None:
        self.ended, self.outcome = datetime.now(UTC), outcome
        self.update_ids = tuple(u["update_id"] for u in updates or ())


@dataclass
class _Webhook:
    url: str = ""
    secret_token: str | None = None
    allowed_updates: list[str] = field(default_factory=list)


class FakeTelegram(FakePlatform["Call"]):
    """An in-process Bot API server; see the module docstring."""

    api_name = "Bot API"
    thread_name = "fake-telegram"

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        username: str = "makerdesk_bot",
        first_name: str = "众创助手",
    ) -> None:
        super().__init__()
        self.token = token
        self.bot_user: Json = {
            "id": int(token.split(":", 1)[0]), "is_bot": True,
            "first_name": first_name, "username": username,
        }  # fmt: skip
        self.polls: list[Poll] = []
        self.messages: dict[tuple[int | str, int], Json] = {}  # (chat_id, message_id) → Message
        self.files: dict[str, Upload] = {}  # file_id → content
        self.commands: dict[str, list[Json]] = {}  # scope+language → commands
        self.webhook = _Webhook()
        self._queue: list[_Queued] = []
        self._allowed_updates: list[str] = []
        self._failures: list[_Failure] = []
        self._next_update_id = 10_000
        self._next_message_id: dict[int | str, int] = {}
        self._callback_ids: set[str] = set()
        self._poll_generation = 0
        self.polls_waiting = 0  # getUpdates calls now blocked in a long poll
        self._closing = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Self:
        """Listen on a free port of 127.0.0.1 and set :attr:`root`."""
        self._closing = False
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        # A client that hangs up cancels its handler, as Telegram forgets such a request: a
        # killed bot's long poll must not linger to be "terminated" by the next poller.
        await self._serve(app, handler_cancellation=True)
        return self

    async def stop(self) -> None:
        """Release pending long polls and shut the server down."""
        self._closing = True
        await super().stop()

    # ------------------------------------------------------------------ inspection

    @property
    def conflicts(self) -> int:
        """How many ``getUpdates`` were ended with 409 by a newer ``getUpdates``."""
        return sum(p.outcome == "conflict" for p in self.polls)

    def calls_of(self, method: str) -> list[Call]:
        """Every call of ``method`` (failed ones too), oldest first."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def sent(self, chat_id: int | str | None = None) -> list[Call]:
        """Successful ``sendMessage`` calls, to ``chat_id`` if given."""
        return [
            c
            for c in self.calls_of("sendMessage")
            if c.status == 200 and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
        ]

    # ------------------------------------------------------------------ scripting

    def fail_next(
        self,
        method: str,
        chat_id: int | str | None = None,
        error_code: int = 403,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (to ``chat_id`` if given) fail.

        ``description`` defaults to Telegram's wording for the code (403 blocked, 400 chat not
        found, 429 "retry after N", 502 Bad Gateway).
        """
        if description is None:
            if error_code == 429:
                description = f"Too Many Requests: retry after {retry_after or 1}"
                retry_after = retry_after or 1
            else:
                description = STANDARD_ERRORS.get(error_code) or HTTPStatus(error_code).phrase
        error = ApiError(error_code, description, retry_after)
        self._failures.append(_Failure(method.lower(), chat_id, error, times))

    def _scripted_failure(self, method: str, params: Json) -> ApiError | None:
        for failure in self._failures:
            if failure.method == method.lower() and (
                failure.chat_id is None or str(failure.chat_id) == str(params.get("chat_id"))
            ):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure.error
        return None

    # ------------------------------------------------------------------ update builders

    @staticmethod
    def user(user_id: int, first_name: str = "张三", language_code: str | None = "zh-hans") -> Json:
        """A realistic User object."""
        user: Json = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        return user

    def private_message(
        self, user_id: int, text: str, *, language_code: str = "zh-hans", first_name: str = "张三"
    ) -> Json:
        """Queue a private text message from ``user_id`` and return its Update."""
        sender = self.user(user_id, first_name, language_code)
        chat = {"id": user_id, "first_name": first_name, "type": "private"}
        return self._push({"message": self._incoming(chat, sender, text)})

    def group_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        reply_to_message_id: int | None = None,
        photo: bool = False,
        document: bool = False,
        first_name: str = "张三",
        title: str = "众创空间服务群",
        data: bytes | None = None,
        file_name: str = "申请表.pdf",
    ) -> Json:
        """Queue a group message (text, or a photo/document captioned ``text``).

        ``data``: the photo's or document's bytes (a stand-in by default); ``file_name``: the
        document's name.
        """
        chat = {"id": chat_id, "title": title, "type": "supergroup"}
        message = self._incoming(
            chat, self.user(user_id, first_name), text, photo, document, data, file_name
        )
        if reply_to_message_id is not None:
            replied = self.messages.get((chat_id, reply_to_message_id))
            stub = {"message_id": reply_to_message_id, "date": int(time.time()), "chat": chat}
            message["reply_to_message"] = copy.deepcopy(replied or stub)
            message["reply_to_message"].pop("reply_to_message", None)
        return self._push({"message": message})

    def callback(self, user_id: int, chat_id: int, message_id: int, data: str) -> Json:
        """Queue a callback query from an inline button on ``message_id``."""
        query_id = str(uuid.uuid4().int >> 64)
        self._callback_ids.add(query_id)
        message = self.messages.get((chat_id, message_id)) or {
            "message_id": message_id, "from": self.bot_user, "date": int(time.time()),
            "chat": self._chat(chat_id), "text": "",
        }  # fmt: skip
        query = {
            "id": query_id, "from": self.user(user_id), "message": copy.deepcopy(message),
            "chat_instance": str(abs(chat_id) * 7919), "data": data,
        }  # fmt: skip
        return self._push({"callback_query": query})

    def push_raw(self, update: Json) -> Json:
        """Deliver ``update`` again as is (same update_id), even if already confirmed."""
        with self._lock:
            self._queue.append(_Queued(copy.deepcopy(update), redelivery=True))
        self._notify()
        return update

    def _push(self, body: Json) -> Json:
        with self._lock:
            update = {"update_id": self._next_update_id, **body}
            self._next_update_id += 1
            self._queue.append(_Queued(update))
        self._notify()
        return copy.deepcopy(update)

    def _incoming(
        self,
        chat: Json,
        sender: Json,
        text: str,
        photo: bool = False,
        document: bool = False,
        data: bytes | None = None,
        file_name: str = "申请表.pdf",
    ) -> Json:
        message: Json = {
            "message_id": self._message_id(chat["id"]), "from": sender, "chat": chat,
            "date": int(time.time()),
        }  # fmt: skip
        if photo:
            photo_data = b"\xff\xd8photo" if data is None else data
            message["photo"] = [self._file("photo.jpg", photo_data, "image/jpeg", w)
                                for w in (90, 1280)]  # fmt: skip
        elif document:
            document_data = b"%PDF-1.4 fake" if data is None else data
            message["document"] = self._file(file_name, document_data, "application/pdf")
        key = "caption" if photo or document else "text"
        if text:
            message[key] = text
        if key == "text" and text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        with self._lock:
            self.messages[chat["id"], message["message_id"]] = message
        return message

    def _file(self, name: str, data: bytes, mime: str, width: int | None = None) -> Json:
        file_id = f"BQAC{uuid.uuid4().hex}"
        self.files[file_id] = Upload(name, mime, data)
        obj: Json = {"file_id": file_id, "file_unique_id": file_id[4:20], "file_size": len(data)}
        if width is not None:
            return obj | {"width": width, "height": width * 3 // 4}
        return obj | {"file_name": name, "mime_type": mime}

    def _message_id(self, chat_id: int | str) -> int:
        with self._lock:
            self._next_message_id[chat_id] = self._next_message_id.get(chat_id, 0) + 1
            return self._next_message_id[chat_id]

    def _chat(self, chat_id: int | str) -> Json:
        if isinstance(chat_id, int) and chat_id > 0:
            return {"id": chat_id, "first_name": "张三", "type": "private"}
        return {"id": chat_id, "title": "众创空间服务群", "type": "supergroup"}

    async def deliver(self, update: Json, url: str | None = None) -> int:
        """POST ``update`` to the webhook with its secret header; the status.

        Like Telegram, a method call in the response body (``{"method": "sendMessage", …}``)
        is performed and recorded as if the bot had called it.

        Args:
            update: The update to post.
            url: Where to post instead of the registered webhook address (a test bot that
                registered a public address it does not listen on).
        """
        target = url or self.webhook.url
        assert target, "no webhook is set"
        headers = {}
        if self.webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook.secret_token
        async with (
            aiohttp.ClientSession() as session,
            session.post(target, json=update, headers=headers) as response,
        ):
            if response.status == 200 and response.content_type == "application/json":
                call = await response.json()
                if isinstance(call, dict) and isinstance(call.get("method"), str):
                    method = call.pop("method")
                    await self._invoke(method, call)
            return response.status

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        authorized = request.match_info["token"] == self.token
        status, body = await self._invoke(
            request.match_info["method"], params, authorized, outbox_id(request)
        )
        return web.json_response(
            body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False)
        )

    async def _invoke(
        self, method: str, params: Json, authorized: bool = True, outbox: int | None = None
    ) -> tuple[int, Json]:
        """Perform one Bot API call, record it, and return the HTTP status and body."""
        status, result = 200, None
        try:
            if not authorized:
                raise ApiError(401, "Unauthorized")
            handler = getattr(self, f"_api_{method.lower()}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            if failure := self._scripted_failure(method, params):
                raise failure
            result = await handler(params)
            body: Json = {"ok": True, "result": result}
        except ApiError as error:
            status, body = error.code, error.body()
        self.calls.append(Call(method, params, datetime.now(UTC), status, result, outbox))
        self._notify()
        return status, body

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            raise web.HTTPUnauthorized
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        if (upload := self.files.get(file_id)) is None:
            raise web.HTTPNotFound
        return web.Response(body=upload.data, content_type=upload.content_type)

    @staticmethod
    async def _params(request: web.Request) -> Json:
        params: Json = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
            return params
        if request.method == "POST":
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    params[key] = Upload(value.filename, value.content_type, value.file.read())
                else:
                    params[key] = value
        for key, value in list(params.items()):
            if not isinstance(value, str):
                continue
            if key in INT_FIELDS:
                with contextlib.suppress(ValueError):
                    params[key] = int(value)
            elif key in BOOL_FIELDS:
                params[key] = value.lower() == "true"
            elif key in JSON_FIELDS:
                params[key] = json.loads(value)
        return params

    # ------------------------------------------------------------------ methods

    async def _api_getme(self, params: Json) -> Json:
        return self.bot_user | {
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False, "can_connect_to_business": False,
            "has_main_web_app": False,
        }  # fmt: skip

    async def _api_getupdates(self, params: Json) -> list[Json]:
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 100))
        poll = Poll(offset, datetime.now(UTC))
        self.polls.append(poll)
        if self.webhook.url:
            poll.finish("webhook")
            raise ApiError(409, WEBHOOK_CONFLICT)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older long poll is now superseded
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"])
        deadline = asyncio.get_running_loop().time() + float(params.get("timeout", 0))
        try:
            while True:
                if generation != self._poll_generation:
                    poll.finish("conflict")
                    raise ApiError(409, STANDARD_ERRORS[409])
                if ready := self._take_updates(offset, max(1, min(limit, 100))):
                    poll.finish("updates", ready)
                    return ready
                if self._closing:
                    poll.finish("empty")
                    return []
                self.polls_waiting += 1
                self._notify()
                try:
                    if not await self._wait_change(deadline):
                        poll.finish("empty")
                        return []
                finally:
                    self.polls_waiting -= 1
        except asyncio.CancelledError:
            poll.finish("gone")
            self._notify()
            raise

    def _take_updates(self, offset: int, limit: int) -> list[Json]:
        allowed = self._allowed_updates

        def wanted(q: _Queued) -> bool:
            kind = next((k for k in q.update if k != "update_id"), "")
            return not allowed or kind in allowed

        with self._lock:
            if offset < 0:  # the last -offset updates; older ones are forgotten
                self._queue = self._queue[offset:]
            self._queue = [
                q
                for q in self._queue
                if wanted(q)
                and not (q.delivered if q.redelivery else q.update["update_id"] < offset)
            ]
            ready = self._queue[:limit]
            for q in ready:
                q.delivered = True
            return [copy.deepcopy(q.update) for q in ready]

    async def _api_setwebhook(self, params: Json) -> bool:
        if params.get("drop_pending_updates"):
            self._queue.clear()
        allowed = params.get("allowed_updates", self.webhook.allowed_updates)
        self.webhook = _Webhook(params.get("url", ""), params.get("secret_token"), allowed)
        self._notify()
        return True

    async def _api_deletewebhook(self, params: Json) -> bool:
        if params.get("drop_pending_updates"):
            self._queue.clear()
        self.webhook = _Webhook()
        return True

    async def _api_getwebhookinfo(self, params: Json) -> Json:
        info: Json = {"url": self.webhook.url, "has_custom_certificate": False,
                      "pending_update_count": len(self._queue)}  # fmt: skip
        if self.webhook.url:
            info |= {"max_connections": 40, "allowed_updates": self.webhook.allowed_updates}
        return info

    def _outgoing(self, params: Json, **content: Any) -> Json:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        message: Json = {
            "message_id": self._message_id(chat_id), "from": self.bot_user,
            "chat": self._chat(chat_id), "date": int(time.time()), **content,
        }  # fmt: skip
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # Telegram echoes inline keyboards only
        reply = params.get("reply_parameters") or {}
        if replied := self.messages.get((chat_id, reply.get("message_id", 0))):
            message["reply_to_message"] = {
                k: v for k, v in replied.items() if k != "reply_to_message"
            }
        self.messages[chat_id, message["message_id"]] = message
        return message

    async def _api_sendmessage(self, params: Json) -> Json:
        if not params.get("text"):
            raise ApiError(400, "Bad Request: message text is empty")
        return self._outgoing(params, text=params["text"])

    async def _api_sendphoto(self, params: Json) -> Json:
        photo = params.get("photo")
        data = photo.data if isinstance(photo, Upload) else b""
        sizes = [self._file("photo.jpg", data, "image/jpeg", w) for w in (90, 1280)]
        return self._outgoing(params, photo=sizes, **self._caption(params))

    async def _api_senddocument(self, params: Json) -> Json:
        doc = params.get("document")
        upload = doc if isinstance(doc, Upload) else Upload("file", "application/octet-stream", b"")
        document = self._file(upload.filename or "file", upload.data, upload.content_type)
        return self._outgoing(params, document=document, **self._caption(params))

    @staticmethod
    def _caption(params: Json) -> Json:
        return {"caption": params["caption"]} if params.get("caption") else {}

    async def _api_copymessage(self, params: Json) -> Json:
        source = self.messages.get((params.get("from_chat_id", 0), params.get("message_id", 0)))
        if source is None:
            raise ApiError(400, "Bad Request: message to copy not found")
        content = {k: v for k, v in source.items() if k in ("text", "caption", "photo", "document")}
        return {"message_id": self._outgoing(params, **content)["message_id"]}

    def _editable(self, params: Json) -> Json | None:
        if params.get("inline_message_id"):
            return None
        message = self.messages.get((params.get("chat_id", 0), params.get("message_id", 0)))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _edit(self, message: Json, params: Json, **changes: Any) -> Json:
        markup = params.get("reply_markup")
        new = dict(message, **changes)
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            new["reply_markup"] = markup
        else:
            new.pop("reply_markup", None)
        if {k: v for k, v in new.items() if k != "edit_date"} == {
            k: v for k, v in message.items() if k != "edit_date"
        }:
            raise ApiError(400, NOT_MODIFIED)
        new["edit_date"] = int(time.time())
        self.messages[message["chat"]["id"], message["message_id"]] = new
        return new

    async def _api_editmessagetext(self, params: Json) -> Json | bool:
        if not params.get("text"):
            raise ApiError(400, "Bad Request: message text is empty")
        message = self._editable(params)
        return True if message is None else self._edit(message, params, text=params["text"])

    async def _api_editmessagereplymarkup(self, params: Json) -> Json | bool:
        message = self._editable(params)
        return True if message is None else self._edit(message, params)

    async def _api_answercallbackquery(self, params: Json) -> bool:
        try:
            self._callback_ids.remove(str(params.get("callback_query_id")))
        except KeyError:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            ) from None
        return True

    async def _api_getfile(self, params: Json) -> Json:
        file_id = str(params.get("file_id"))
        if (upload := self.files.get(file_id)) is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {"file_id": file_id, "file_unique_id": file_id[4:20], "file_size": len(upload.data),
                "file_path": f"documents/{file_id}"}  # fmt: skip

    @staticmethod
    def _commands_key(params: Json) -> str:
        scope = params.get("scope") or {"type": "default"}
        return f"{json.dumps(scope, sort_keys=True)}|{params.get('language_code', '')}"

    async def _api_setmycommands(self, params: Json) -> bool:
        self.commands[self._commands_key(params)] = list(params.get("commands", []))
        return True

    async def _api_deletemycommands(self, params: Json) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _api_getmycommands(self, params: Json) -> list[Json]:
        return self.commands.get(self._commands_key(params), [])

    async def _api_getchat(self, params: Json) -> Json:
        gifts = dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription",
             "gifts_from_channels"), False
        )  # fmt: skip
        return self._chat(params.get("chat_id", 0)) | {
            "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts,
        }  # fmt: skip
