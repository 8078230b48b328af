"""What the bot says to everyone in chat: greeting, help, refusals, admin replies.

Simplified Chinese is the default; English goes to users whose client says English.
Keep the tone short and warm; the entrepreneur is addressed as 您.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.messages import Language

__all__ = ["EN", "PAGE_EN", "PAGE_ZH", "ZH", "PageTexts", "Texts", "page_texts_for", "texts_for"]


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
    helpful_button: str
    """👍 under an answer; no space in Chinese, for WeChat's menu links carry it as typed."""
    unhelpful_button: str
    rated_helpful: str
    rated_unhelpful: str
    rating_unknown: str
    suggestion_gone: str
    rating_not_yours: str
    request_not_ready: str
    empty_message: str
    too_long: str
    attachment_only: str
    voice_only: str
    """To a voice message without a transcription (WeChat's recognition off, Telegram)."""
    unknown_command: str
    admin_only: str
    stats_only: str
    stats: str
    stats_unanswered: str
    supervisor_help: str
    admin_help: str
    report_only: str
    report_usage: str
    report_not_started: str
    report_making: str
    whole_city: str
    """The scope of an admin's report: the whole city."""
    all_groups: str
    """The scope of an admin's statistics: every group."""
    report_caption: str
    report_no_files: str
    file_not_made: str
    file_kinds: dict[str, str]
    """What a carried file is called: ``photo`` → 图片."""
    file_named: str
    file_link: str
    """A file the reader's platform cannot take, with a signed link to it."""
    file_not_here: str
    """The same without a link (no ``BOT_PUBLIC_URL``)."""
    file_too_big: str
    file_refused: str
    """A file the bot does not carry (a program, or a kind it cannot tell)."""
    file_gone: str
    """A file its platform no longer gives."""
    file_link_bad: str
    file_try_later: str
    reload_ok: str
    reload_failed: str
    roster_reload_ok: str
    roster_reload_failed: str
    calendar_reload_ok: str
    calendar_reload_failed: str
    redated: str
    bad_request: str
    incomplete: str
    busy: str
    unavailable: str
    unverified: str
    """To someone the roster lists, writing through a channel that cannot vouch for the sender
    (WeChat's plain mode): no role of theirs applies, and what the admin must change."""


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
    helpful_button="👍有帮助",
    unhelpful_button="👎没帮助",
    rated_helpful="谢谢您的反馈，很高兴能帮上忙！",
    rated_unhelpful=(
        "谢谢您的反馈，我们会改进这条回答。\n需要的话，可以把问题提交给服务专员，由专员为您解答。"
    ),
    rating_unknown="抱歉，没有找到这条回答，评价没能记下。您可以直接再问一次。",
    suggestion_gone="抱歉，这条内容刚刚更新过，请把您的问题再发一次。",
    rating_not_yours="这条回答不是发给您的，不能由您评价。",
    request_not_ready=(
        "在线提交工单的功能即将开放。\n"
        "现在您可以在服务小组每周的现场办公日到政府流动服务站找服务专员，"
        "或拨打服务小组的专线电话。"
    ),
    empty_message="您好像还没有输入内容。请直接输入您的问题，例如：众创空间是什么？",
    too_long="您的消息有 {length} 字，超过了 {limit} 字的上限。请精简后再发，或分几条发送。",
    attachment_only="我目前只能看懂文字。请用文字描述您的问题，我来帮您解答。",
    voice_only="这条语音我听不出内容。请直接打字发送您的问题，我来帮您解答。",
    unknown_command="我不认识命令 /{command}。发送 /help 查看可用的命令。",
    admin_only="抱歉，这个操作只有管理员可以使用。",
    stats_only="抱歉，统计只有督导和管理员可以查看。",
    stats=(
        "📊 今日统计（{day}，{scope}）\n"
        "新工单 {opened} · 今日办结 {resolved}\n"
        "在办 {active}（其中超期 {overdue}）· 待创业者补充 {waiting}"
    ),
    stats_unanswered="未能回答的问题 {count} 个（python -m bot kb gaps 可查看）",
    supervisor_help="督导和管理员：/stats 今日统计；/report [季度] [pdf|html|csv] 季报文件",
    admin_help="管理员：/reload 重新加载知识库、名册和工作日日历",
    report_only="抱歉，季报只有督导和管理员可以获取。",
    report_usage=(
        "用法：/report [季度] [pdf|html|csv]，例如 /report 2026Q3 csv。不写季度就是本季度。"
    ),
    report_not_started="{quarter} 还没开始，没有可统计的数据。",
    report_making="好的，正在生成{scope}的{quarter}季报，稍候以文件发给您。",
    whole_city="全市",
    all_groups="全部",
    report_caption="📑 {title}\n统计至生成时；含图表，A4 纸可直接打印。",
    report_no_files=(
        "这里发不了文件。完整季报（含图表）可以在服务专员控制台（/console）下载，"
        "或在 Telegram 向我发送 /report 获取。"
    ),
    file_not_made=(
        "抱歉，这份文件没能生成：{what}。原因已记录，管理员会查看。"
        "请稍后再试；季报也可以在服务专员控制台（/console）下载。"
    ),
    file_kinds={"photo": "图片", "document": "文件", "voice": "语音", "video": "视频"},
    file_named="{kind}「{name}」",
    file_link="（{what}无法在这里直接发送，请在 7 天内从下面的链接下载。）\n{url}",
    file_not_here="（{what}无法在这里直接发送，需要时请向对方索取。）",
    file_too_big="（{what}超过 {limit} MB，没有转交，需要时请向对方索取。）",
    file_refused=(
        "（{what}没有转交：只转交图片、PDF、Office 文档和压缩包，不转交程序或无法识别的文件。）"
    ),
    file_gone="（{what}已无法取回，需要时请向对方索取。）",
    file_link_bad="这个文件链接无效或已过期。请回到对话中重新打开。",
    file_try_later="暂时取不到这个文件，请稍后再试。",
    reload_ok="知识库已重新加载，共 {entries} 条。",
    reload_failed="知识库有 {count} 处问题，仍在使用原来的版本：\n{faults}",
    roster_reload_ok="名册已重新加载，共 {groups} 个服务小组。",
    roster_reload_failed="名册有 {count} 处问题，仍在使用原来的名册：\n{faults}",
    calendar_reload_ok="工作日日历已重新加载。",
    calendar_reload_failed="工作日覆盖文件有 {count} 处问题，仍在使用原来的日历：\n{faults}",
    redated="按新日历，{count} 个工单的答复期限有变化，已通知创业者。",
    bad_request="抱歉，没能读懂这条消息。请重新输入您的问题。",
    incomplete="网络中断了，您的消息没有收全，请再发一次。",
    busy="消息发得有点快，请稍等几秒再试。",
    unavailable="抱歉，系统暂时无法处理，您的消息还没有收到。请过一会儿再发一次。",
    unverified=(
        "抱歉，这里不能用服务专员或管理员的身份操作：公众号目前是明文模式，"
        "我无法确认消息确实是您发的。请管理员把公众号切换到安全模式（并设置 BOT_WECHAT_AES_KEY）。"
    ),
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
    helpful_button="👍 Good",
    unhelpful_button="👎 Poor",
    rated_helpful="Thanks for letting me know. Glad it helped!",
    rated_unhelpful=(
        "Thanks for telling me; we'll improve this answer.\n"
        "If you like, send your question to the service commissioners and they will answer."
    ),
    rating_unknown=(
        "Sorry, I couldn't find that answer, so the rating wasn't saved. Please ask again."
    ),
    suggestion_gone="Sorry, that entry was just updated. Please send your question again.",
    rating_not_yours="That answer was given in another chat, so it can't be rated here.",
    request_not_ready=(
        "Online service requests open soon. Meanwhile, visit the commissioners at the mobile "
        "service station on their weekly on-site day, or call the service group's hotline."
    ),
    empty_message="Your message looks empty. Please type your question.",
    too_long="Your message has {length} characters; the limit is {limit}. Please shorten it.",
    attachment_only="I can only read text for now. Please describe your question in words.",
    voice_only="I couldn't make out the words of that voice message. Please type your question.",
    unknown_command="I don't know the command /{command}. Send /help to see what I can do.",
    admin_only="Sorry, only admins can do that.",
    stats_only="Sorry, only supervisors and admins can see the statistics.",
    stats=(
        "📊 Today ({day}, {scope})\n"
        "New requests {opened} · resolved today {resolved}\n"
        "In progress {active} (overdue {overdue}) · waiting on the entrepreneur {waiting}"
    ),
    stats_unanswered="Questions the bot could not answer: {count} (see python -m bot kb gaps)",
    supervisor_help=(
        "Supervisors and admins: /stats today's counts; /report [quarter] [pdf|html|csv] the "
        "quarterly report as a file"
    ),
    admin_help="Admins: /reload the knowledge base, roster and working-day calendar",
    report_only="Sorry, only supervisors and admins can get the report.",
    report_usage=(
        "Usage: /report [quarter] [pdf|html|csv], e.g. /report 2026Q3 csv. "
        "Without a quarter: this quarter."
    ),
    report_not_started="{quarter} has not started yet: there is nothing to count.",
    report_making="On it: the {quarter} report for {scope} follows as a file in a moment.",
    whole_city="the city",
    all_groups="all",
    report_caption="📑 {title}\nCounted as of making; with charts, prints on A4.",
    report_no_files=(
        "Files cannot be sent here. Download the full report (with charts) from the "
        "commissioners' console (/console), or send /report to me on Telegram."
    ),
    file_not_made=(
        "Sorry, this file could not be made: {what}. The reason is logged for the admins. "
        "Please try again later; the report can also be downloaded from the console (/console)."
    ),
    file_kinds={"photo": "photo", "document": "file", "voice": "voice message", "video": "video"},
    file_named='{kind} "{name}"',
    file_link="(The {what} can't be sent here; download it within 7 days from this link.)\n{url}",
    file_not_here="(The {what} can't be sent here; ask the other side for it if you need it.)",
    file_too_big="(The {what} is over {limit} MB and was not passed on; ask for it if needed.)",
    file_refused=(
        "(The {what} was not passed on: only pictures, PDF, Office documents and ZIP archives "
        "are, never programs or files of an unknown kind.)"
    ),
    file_gone="(The {what} can no longer be fetched; ask the other side for it if needed.)",
    file_link_bad="This file link is not valid or has expired. Open it again from the chat.",
    file_try_later="The file can't be fetched right now. Please try again later.",
    reload_ok="Knowledge base reloaded: {entries} entries.",
    reload_failed="The knowledge base has {count} problems; still serving the old one:\n{faults}",
    roster_reload_ok="Roster reloaded: {groups} service groups.",
    roster_reload_failed="The roster has {count} problems; still serving the old one:\n{faults}",
    calendar_reload_ok="Working-day calendar reloaded.",
    calendar_reload_failed=(
        "The working-day overrides have {count} problems; still serving the old calendar:\n{faults}"
    ),
    redated="{count} requests have a new due date by the new calendar; entrepreneurs were told.",
    bad_request="Sorry, I couldn't read that message. Please type your question again.",
    incomplete="The connection broke and your message did not arrive whole. Please send it again.",
    busy="That's a lot of messages at once. Please wait a few seconds.",
    unavailable=(
        "Sorry, I can't take messages right now and yours was not received. "
        "Please send it again in a moment."
    ),
    unverified=(
        "Sorry, I can't act on your commissioner or admin role here: this Official Account runs "
        "in plain mode (明文模式), so I can't confirm the message is yours. Please ask an admin "
        "to switch it to safe mode (安全模式) and set BOT_WECHAT_AES_KEY."
    ),
)

_BY_LANGUAGE = {Language.ZH: ZH, Language.EN: EN}


def texts_for(language: Language) -> Texts:
    """The phrases for ``language``."""
    return _BY_LANGUAGE[language]


@dataclass(frozen=True, slots=True)
class PageTexts:
    """The web chat page's own words (the chrome around the conversation), in one language.

    What the page's script says (:attr:`script`) goes to it as JSON; the rest is filled into the
    HTML by the server, so the page is in the visitor's language from its first paint.
    """

    lang: str
    """The page's ``<html lang>``."""
    title: str
    heading: str
    tagline: str
    log_label: str
    input_label: str
    placeholder: str
    send: str
    staff_link: str
    switch_label: str
    """The link to the page in the other language, written in that language."""
    switch_lang: str
    switch_code: str
    quick_label: str
    quick_actions: tuple[tuple[str, str], ...]
    """(label, the command it sends): the commands every channel understands."""
    script: dict[str, str]
    """The words the page's script shows: speakers, notices, the retry button, star labels."""
    thread_title: str
    thread_back: str
    thread_asked: str
    thread_history: str
    thread_category: str
    thread_status: str
    thread_due: str
    thread_provisional: str
    thread_opened: str
    thread_space: str
    thread_group: str
    thread_result: str
    thread_events: dict[str, str]
    """What each event of the request's log says to its entrepreneur (``{name}``, ``{to}``,
    ``{stars}`` filled in); a kind not here is not shown to them (claims, reminders)."""
    thread_missing: str
    thread_nothing_yet: str


PAGE_ZH = PageTexts(
    lang="zh-CN",
    title="众创助手 MakerDesk",
    heading="众创助手",
    tagline="众创空间延伸服务 · 政策问答与服务专员",
    log_label="对话记录",
    input_label="您的问题",
    placeholder="输入您的问题",
    send="发送",
    staff_link="服务专员入口",
    switch_label="English",
    switch_lang="en",
    switch_code="en",
    quick_label="常用操作",
    quick_actions=(
        ("提交工单", "/new"),
        ("我的工单", "/tickets"),
        ("换众创空间", "/space"),
        ("帮助", "/help"),
    ),
    script={
        "me": "我",
        "bot": "众创助手",
        "said": "：",
        "source": "来源：",
        "offline": "网络好像断了，消息没有发出。",
        "retry": "重新发送",
        "typing": "众创助手正在输入…",
        "pending": "您正在提交工单，请接着回答上面的问题，或者：",
        "cancel": "取消",
        "star": "{n} 星",
        "stars": "{n} 星",
        "photo": "图片",
        "file": "文件",
        "new_reply": "新消息",
        "sent_at": "发送于",
    },
    thread_title="工单 {number}",
    thread_back="返回对话",
    thread_asked="我的问题",
    thread_history="办理经过",
    thread_category="类别",
    thread_status="状态",
    thread_due="答复期限",
    thread_provisional="（预计）",
    thread_opened="提交时间",
    thread_space="众创空间",
    thread_group="承办小组",
    thread_result="办理结果",
    thread_events={
        "reply": "服务专员{name}回复",
        "ask": "服务专员{name}请您补充",
        "resolve": "服务专员{name}办结",
        "follow_up": "我补充",
        "confirmed": "我确认已解决",
        "reopened": "我重新打开了工单",
        "rated": "我的评价：{stars} 星",
        "transferred": "转交给{to}",
        "closed": "工单已关闭",
        "due_changed": "答复期限改为 {to}",
    },
    thread_missing="没有找到这个工单。",
    thread_nothing_yet="服务专员还没有回复，有进展会在对话里通知您。",
)

PAGE_EN = PageTexts(
    lang="en",
    title="MakerDesk",
    heading="MakerDesk",
    tagline="Maker space services · policy answers and service commissioners",
    log_label="Conversation",
    input_label="Your question",
    placeholder="Type your question",
    send="Send",
    staff_link="Commissioners' console",
    switch_label="中文",
    switch_lang="zh-CN",
    switch_code="zh",
    quick_label="Quick actions",
    quick_actions=(
        ("New request", "/new"),
        ("My requests", "/tickets"),
        ("Change maker space", "/space"),
        ("Help", "/help"),
    ),
    script={
        "me": "You",
        "bot": "MakerDesk",
        "said": ": ",
        "source": "Source: ",
        "offline": "The connection seems down; your message was not sent.",
        "retry": "Send again",
        "typing": "MakerDesk is typing…",
        "pending": "You are opening a request: answer the question above, or:",
        "cancel": "Cancel",
        "star": "{n} star",
        "stars": "{n} stars",
        "photo": "photo",
        "file": "file",
        "new_reply": "new message",
        "sent_at": "sent at",
    },
    thread_title="Request {number}",
    thread_back="Back to the chat",
    thread_asked="What I asked",
    thread_history="What happened",
    thread_category="Category",
    thread_status="Status",
    thread_due="Reply due",
    thread_provisional=" (estimated)",
    thread_opened="Opened",
    thread_space="Maker space",
    thread_group="Service group",
    thread_result="Result",
    thread_events={
        "reply": "Commissioner {name} replied",
        "ask": "Commissioner {name} asked for more",
        "resolve": "Commissioner {name} resolved it",
        "follow_up": "I added",
        "confirmed": "I confirmed it is solved",
        "reopened": "I reopened it",
        "rated": "My rating: {stars} stars",
        "transferred": "Moved to {to}",
        "closed": "Closed",
        "due_changed": "Reply now due {to}",
    },
    thread_missing="No such request.",
    thread_nothing_yet="No reply yet; the chat will tell you when there is news.",
)

_PAGE_BY_LANGUAGE = {Language.ZH: PAGE_ZH, Language.EN: PAGE_EN}


def page_texts_for(language: Language) -> PageTexts:
    """The page's own words for ``language``."""
    return _PAGE_BY_LANGUAGE[language]
