"""Everything the bot says to people, in one place per language.

Simplified Chinese is the default; English goes to users whose client says English.
Keep the tone short and warm; the entrepreneur is addressed as 您.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.messages import Language

__all__ = ["Texts", "texts_for"]


@dataclass(frozen=True, slots=True)
class Texts:
    """The bot's phrases in one language. ``{placeholders}`` are filled with ``str.format``."""

    welcome: str
    help: str
    source: str
    suggest_intro: str
    suggest_outro: str
    no_match: str
    submit_button: str
    request_not_ready: str
    empty_message: str
    too_long: str
    attachment_only: str
    unknown_command: str
    admin_only: str
    reload_ok: str
    reload_failed: str
    bad_request: str
    busy: str


ZH = Texts(
    welcome=(
        "您好，我是众创助手 👋\n"
        "我可以解答众创空间延伸服务的政策问题（津科创〔2015〕51号、宝坻区众创空间实施方案），"
        "答不上来的，帮您转给服务专员，一般 10 个工作日内反馈。\n"
        "直接输入您的问题就好，例如：服务专员多久答复？"
    ),
    help=(
        "直接输入问题，我会给出答案和政策出处。\n"
        "/new 提交工单给服务专员\n"
        "/tickets 查看我的工单\n"
        "/space 选择我的众创空间\n"
        "/cancel 取消当前操作\n"
        "/help 显示本帮助"
    ),
    source="来源：{source}",
    suggest_intro="您是不是想问：",
    suggest_outro="都不是？可以提交给服务专员，由专员为您解答。",
    no_match=(
        "抱歉，这个问题我暂时答不上来。\n您可以把问题提交给服务专员，一般在 10 个工作日内给您反馈。"
    ),
    submit_button="提交给服务专员",
    request_not_ready=(
        "在线提交工单的功能即将开放。\n"
        "现在您可以在服务小组每周的现场办公日到政府流动服务站找服务专员，"
        "或拨打服务小组的专线电话。"
    ),
    empty_message="您好像还没有输入内容。请直接输入您的问题，例如：众创空间是什么？",
    too_long="您的消息有 {length} 字，超过了 {limit} 字的上限。请精简后再发，或分几条发送。",
    attachment_only="我目前只能看懂文字。请用文字描述您的问题，我来帮您解答。",
    unknown_command="我不认识命令 /{command}。发送 /help 查看可用的命令。",
    admin_only="抱歉，这个操作只有管理员可以使用。",
    reload_ok="知识库已重新加载，共 {entries} 条。",
    reload_failed="知识库有 {count} 处问题，仍在使用原来的版本：\n{faults}",
    bad_request="抱歉，没能读懂这条消息。请重新输入您的问题。",
    busy="消息发得有点快，请稍等几秒再试。",
)

EN = Texts(
    welcome=(
        "Hello, I'm MakerDesk 👋\n"
        "I answer questions about the government services for Tianjin's maker spaces "
        "(Policy 津科创〔2015〕51号 and the Baodi district plan). What I can't answer, I pass to "
        "your service commissioners, who reply within 10 working days.\n"
        "Just type your question, e.g. How long do commissioners take to reply?"
    ),
    help=(
        "Type a question and I'll answer with its policy source.\n"
        "/new open a service request\n"
        "/tickets my requests\n"
        "/space choose my maker space\n"
        "/cancel cancel what we are doing\n"
        "/help show this help"
    ),
    source="Source: {source}",
    suggest_intro="Did you mean:",
    suggest_outro="None of these? Send it to the service commissioners and they will answer.",
    no_match=(
        "Sorry, I can't answer that yet.\n"
        "You can send it to the service commissioners; they reply within 10 working days."
    ),
    submit_button="Ask a commissioner",
    request_not_ready=(
        "Online service requests open soon. Meanwhile, visit the commissioners at the mobile "
        "service station on their weekly on-site day, or call the service group's hotline."
    ),
    empty_message="Your message looks empty. Please type your question.",
    too_long="Your message has {length} characters; the limit is {limit}. Please shorten it.",
    attachment_only="I can only read text for now. Please describe your question in words.",
    unknown_command="I don't know the command /{command}. Send /help to see what I can do.",
    admin_only="Sorry, only admins can do that.",
    reload_ok="Knowledge base reloaded: {entries} entries.",
    reload_failed="The knowledge base has {count} problems; still serving the old one:\n{faults}",
    bad_request="Sorry, I couldn't read that message. Please type your question again.",
    busy="That's a lot of messages at once. Please wait a few seconds.",
)

_BY_LANGUAGE = {Language.ZH: ZH, Language.EN: EN}


def texts_for(language: Language) -> Texts:
    """The phrases for ``language``."""
    return _BY_LANGUAGE[language]
