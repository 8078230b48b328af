"""Everything the bot says to people, in one place per language.

Simplified Chinese is the default; English goes to users whose client says English.
Keep the tone short and warm; the entrepreneur is addressed as 您.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.messages import Language

__all__ = [
    "CONSOLE_TEXTS",
    "ConsoleTexts",
    "DeskTexts",
    "FaqTexts",
    "Texts",
    "desk_texts_for",
    "faq_texts_for",
    "texts_for",
]


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
    report_caption: str
    report_no_files: str
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
    report_caption="📑 {title}\n统计至发送时；含图表，A4 纸可直接打印。",
    report_no_files=(
        "这里发不了文件。完整季报（含图表）可以在服务专员控制台（/console）下载，"
        "或在 Telegram 向我发送 /report 获取。"
    ),
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
    report_caption="📑 {title}\nCounted as of sending; with charts, prints on A4.",
    report_no_files=(
        "Files cannot be sent here. Download the full report (with charts) from the "
        "commissioners' console (/console), or send /report to me on Telegram."
    ),
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
class FaqTexts:
    """What the bot says to a message that its knowledge base does not simply answer."""

    chatter: dict[str, str]
    """By kind of chatter (``knowledge.reading.Chatter``): greeting, thanks, goodbye, identity,
    human, insult, acknowledgement."""
    not_stated: dict[str, str]
    """By kind of fact asked (``knowledge.model.Asks``) that the policy does not state."""
    nearest: str
    """Before the nearest facts, after a ``not_stated`` line."""
    elsewhere: str
    other_district: str
    """A question about one district answered from another district's plan: said first."""
    off_topic: str
    examples: tuple[str, ...]
    """Questions the bot answers, shown with ``off_topic``."""
    lapsed: str
    """One line under an answer drawn from a measure past its validity."""


FAQ_ZH = FaqTexts(
    chatter={
        "greeting": (
            "您好！我是众创助手，可以解答众创空间相关政策，也可以帮您把问题转给服务专员。"
            "请直接输入您的问题。"
        ),
        "thanks": "不客气！还有问题随时问我。",
        "goodbye": "好的，祝您创业顺利！有问题随时来问。",
        "identity": (
            "我是众创助手，天津市众创空间的政策问答机器人：解答市科委津科创〔2015〕51号办法"
            "和宝坻区众创空间方案的问题，答不了的帮您提交给服务专员。"
        ),
        "human": (
            "好的，我帮您转给服务专员。点下面的按钮，说说您要办的事，专员一般在 10 个工作日内答复。"
        ),
        "insult": "抱歉没帮上忙。换个说法再问一次试试；想请服务专员来答，发“转人工”就行。",
        "acknowledgement": "好的。还有其他问题，直接发给我就行。",
    },
    not_stated={
        "how-much": "政策里没有规定具体的金额、利率或比例。",
        "how-long": "政策里没有规定这个期限。",
        "when": "政策里没有写明具体的时间。",
        "where": "政策里没有写明具体的地点。",
        "who": "政策里没有写明由哪个部门或谁负责这件事。",
        "conditions": "政策里没有规定这件事的条件或要求。",
    },
    nearest="相关的规定是：",
    elsewhere=(
        "我只能解答天津市众创空间的政策（市科委津科创〔2015〕51号办法和宝坻区的方案）。"
        "“{place}”的政策请咨询当地的主管部门。"
    ),
    other_district="这是{area}方案里的规定，只适用于{area}；{district}的做法政策里没有写。",
    off_topic="这个我帮不上忙 🙂 我只解答天津市众创空间的相关政策和服务，比如：",
    examples=("众创空间是什么？", "服务专员多久给我答复？", "宝坻区有哪些众创空间？"),
    lapsed=(
        "注：{document}为试行文件，有效期至 {until}，已过有效期；现行规定请以主管部门最新文件为准。"
    ),
)

FAQ_EN = FaqTexts(
    chatter={
        "greeting": (
            "Hello! I'm MakerDesk. I answer questions about Tianjin's maker-space policies and can "
            "pass your question to a service commissioner. What would you like to know?"
        ),
        "thanks": "You're welcome! Ask me any time.",
        "goodbye": "Goodbye, and good luck with your venture!",
        "identity": (
            "I'm MakerDesk, the policy assistant for Tianjin's maker spaces. I answer questions on "
            "the Science and Technology Commission's measures (津科创〔2015〕51号) and Baodi "
            "District's maker-space plan, and send what I can't answer to a service commissioner."
        ),
        "human": (
            "Sure, I'll pass you to a service commissioner. Tap the button and tell them what you "
            "need; they usually reply within 10 working days."
        ),
        "insult": (
            'Sorry I couldn\'t help. Try asking another way, or send "talk to a person" and a '
            "service commissioner will answer."
        ),
        "acknowledgement": "All right. Send me any other question.",
    },
    not_stated={
        "how-much": "The policy does not set an amount, a rate or a share for this.",
        "how-long": "The policy does not set a time limit for this.",
        "when": "The policy does not give a date for this.",
        "where": "The policy does not name a place for this.",
        "who": "The policy does not say which body or person is responsible for this.",
        "conditions": "The policy does not set conditions or requirements for this.",
    },
    nearest="What it does say:",
    elsewhere=(
        "I can only answer for Tianjin's maker spaces (the Commission's measures "
        "津科创〔2015〕51号 and Baodi District's plan). For {place}, please ask the local "
        "authorities there."
    ),
    other_district=(
        "This is in {area}'s plan and applies to {area} only; the policy says nothing about "
        "{district}."
    ),
    off_topic=(
        "I can't help with that 🙂 I answer questions about Tianjin's maker-space policies, "
        "such as:"
    ),
    examples=(
        "What is a maker space?",
        "How long until a commissioner replies?",
        "Which maker spaces are in Baodi?",
    ),
    lapsed=(
        "Note: {document} was a trial measure valid until {until}; it has lapsed, so please check "
        "the current rules with the authorities."
    ),
)

_FAQ_BY_LANGUAGE = {Language.ZH: FAQ_ZH, Language.EN: FAQ_EN}


def faq_texts_for(language: Language) -> FaqTexts:
    """What the bot says to messages its knowledge base does not simply answer, in ``language``."""
    return _FAQ_BY_LANGUAGE[language]


@dataclass(frozen=True, slots=True)
class DeskTexts:
    """What the bot says about service requests (工单), to entrepreneurs and commissioners."""

    status: dict[str, str]
    provisional: str
    no_roster: str
    choose_space: str
    space_set: str
    unknown_space: str
    intake_category: str
    intake_text: str
    intake_phone: str
    skip_button: str
    bad_phone: str
    intake_cancelled: str
    nothing_to_cancel: str
    opened: str
    no_requests: str
    my_requests_head: str
    request_line: str
    overdue_mark: str
    not_yours: str
    unknown_number: str
    follow_up_added: str
    confirm_button: str
    reopen_button: str
    rate_prompt: str
    confirmed: str
    reopened: str
    reopen_too_late: str
    rated: str
    not_allowed: str
    reply_to_entrepreneur: str
    ask_entrepreneur: str
    resolved_to_entrepreneur: str
    transferred_to_entrepreneur: str
    due_moved: str
    card: str
    card_follow_up: str
    member_only: str
    member_usage: str
    done: str
    unknown_group: str
    open_list_head: str
    open_list_empty: str
    remind_before: str
    remind_due: str
    escalation: str
    overdue_apology: str
    auto_closed: str
    calendar_alert: str
    delivery_failed: str
    delivered: str
    not_delivered: str
    claim_button: str
    ask_button: str
    resolve_button: str
    transfer_button: str
    ask_prompt: str
    resolve_prompt: str
    transfer_prompt: str
    card_assignee: str
    card_moved: str
    attachments_note: str
    group_attachments_note: str
    """The same, under an entrepreneur's message in a duty group: whom to ask is them."""
    attachment_kinds: dict[str, str]
    held: str
    """Under a commissioner's reply that WeChat will not take until the entrepreneur writes."""
    reply_waiting: str
    """The short push (WeChat template message) telling a user that a reply waits."""
    members_only: str
    """To a sender in no duty group who names a request: the same words whatever the number,
    so that numbers tell a stranger nothing."""
    not_in_your_groups: str
    """To a member naming a request their groups do not hold: the same words whether it
    exists or not, and no group named."""


DESK_ZH = DeskTexts(
    status={
        "open": "待受理",
        "claimed": "办理中",
        "waiting": "待您补充",
        "resolved": "已办结（待确认）",
        "closed": "已关闭",
    },
    provisional="（预计，以正式公布的节假日安排为准）",
    no_roster="服务专员名册还没有配置，暂时无法在线提交工单。请联系管理员。",
    choose_space="您在哪个众创空间？请选择：",
    space_set="好的，已记下您在“{space}”。",
    unknown_space="没有找到这个众创空间，请从列表中选择。",
    intake_category="好的，我们来提交工单。您的事项属于哪一类？（随时发送 /cancel 可取消）",
    intake_text="请简要说明您需要办理或咨询的事项：",
    intake_phone="方便留个电话，让服务专员联系您吗？不需要的话点“跳过”。",
    skip_button="跳过",
    bad_phone="这个号码好像不对，请输入 7–15 位数字的电话号码，或点“跳过”。",
    intake_cancelled="已取消，工单没有提交。有需要随时再找我。",
    nothing_to_cancel="当前没有进行中的操作。",
    opened=(
        "✅ 工单已提交：{number}\n"
        "类别：{category}\n"
        "承办：{group}（{space}）\n"
        "答复期限：{due}{provisional}，共 {days} 个工作日\n"
        "服务专员会尽快联系您。发送 /tickets 可随时查看进度。"
    ),
    no_requests="您还没有提交过工单。发送 /new 可以提交。",
    my_requests_head="您的工单：",
    request_line="{number}｜{category}｜{status}｜答复期限 {due}{provisional}{overdue}",
    overdue_mark=" ⚠ 已超期",
    not_yours="没有找到您的工单 {number}。",
    unknown_number="没有找到工单 {number}，请检查编号。",
    follow_up_added="已把这条消息补充到工单 {number}，服务专员会看到。",
    confirm_button="确认已解决",
    reopen_button="问题没解决，重新打开",
    rate_prompt="请为这次服务打分（1–5 星）：",
    confirmed="感谢确认，工单 {number} 已关闭。",
    reopened="工单 {number} 已重新打开，服务专员会继续跟进。",
    reopen_too_late=(
        "工单 {number} 办结已超过 {days} 个工作日，不能重新打开了。"
        "如有新问题，请发送 /new 提交新工单。"
    ),
    rated="谢谢您的评价（{stars} 星）！",
    not_allowed="工单 {number} 当前为“{status}”，不能进行这个操作。",
    reply_to_entrepreneur="💬 工单 {number}，服务专员{name}回复：\n{text}",
    ask_entrepreneur=(
        "❓ 工单 {number}，服务专员{name}需要您补充：\n{text}\n"
        "直接回复这里即可。补充之前，答复期限暂停计算。"
    ),
    resolved_to_entrepreneur="✅ 工单 {number} 已办结。\n办理结果：{text}\n问题解决了吗？",
    transferred_to_entrepreneur="工单 {number} 已转给{group}办理，答复期限：{due}{provisional}。",
    due_moved="工单 {number} 的答复期限调整为 {due}{provisional}（原为 {old}）。",
    card=(
        "📋 工单 {number}｜{category}\n"
        "众创空间：{space}\n"
        "创业者：{who}{phone}\n"
        "内容：{text}\n"
        "答复期限：{due}{provisional}｜状态：{status}{assignee}"
    ),
    card_follow_up="📎 工单 {number}，创业者补充：\n{text}",
    member_only="抱歉，只有工单 {number} 所属服务小组（{group}）的成员可以处理它。",
    member_usage=(
        "服务专员命令：/open 查看待办；/claim 编号；/reply 编号 内容；"
        "/ask 编号 需补充的内容；/resolve 编号 办理结果；/transfer 编号 小组编号"
    ),
    done="已完成：工单 {number} {action}。",
    unknown_group="没有找到服务小组 {group}。可选：{groups}",
    open_list_head="{group} 待办工单（超期的在前）：",
    open_list_empty="{group} 目前没有待办工单。",
    remind_before="⏰ 提醒：工单 {number}（{status}）明天（{due}）到期，请及时答复创业者。",
    remind_due="⏰ 提醒：工单 {number}（{status}）今天（{due}）到期，请在今天 24:00 前答复。",
    escalation=(
        "🚨 工单 {number} 已超期：答复期限 {due} 已过，仍为“{status}”。\n"
        "{group}，{space}，类别：{category}。请尽快处理。"
    ),
    overdue_apology=(
        "非常抱歉，工单 {number} 没能在答复期限 {due} 前给您答复。"
        "目前状态：{status}。我们已提醒服务小组和督导尽快处理。"
    ),
    auto_closed="工单 {number} 办结已满 {days} 个工作日，已自动关闭。如有新问题，请发送 /new。",
    calendar_alert=(
        "📅 {year} 年的节假日安排尚未收录，{count} 个工单的答复期限按法定节假日估算（预计）。"
        "国务院公布后，请在工作日覆盖文件（BOT_CALENDAR）中加入 {year} 年并发送 /reload。"
    ),
    delivery_failed="⚠ 工单 {number} 的一条消息没能送达创业者（{reason}），请换个方式联系。",
    held="⏳ 暂未送达：{reason}。创业者下次发消息时会自动送达。",
    reply_waiting="您的工单有新的回复，请在公众号里发一条消息（例如“我的工单”）查看。",
    delivered="✓ 已送达创业者",
    not_delivered="⚠ 没能送达创业者：{reason}。请换个方式联系。",
    claim_button="🙋 认领",
    ask_button="❓ 请补充",
    resolve_button="✅ 办结",
    transfer_button="↪ 转交",
    ask_prompt="{name}，请直接回复工单 {number} 的卡片，写下要请创业者补充的内容。",
    resolve_prompt="{name}，请直接回复工单 {number} 的卡片，写下办理结果。",
    transfer_prompt="把工单 {number} 转交给哪个服务小组？",
    card_assignee="｜承办：{name}",
    card_moved="↪ 工单 {number} 已转交给{group}。",
    attachments_note="（附件：{kinds}。这里显示不了，需要时请向服务专员索取。）",
    group_attachments_note="（附件：{kinds}。创业者在另一个渠道发送，这里显示不了，需要时请联系创业者。）",
    attachment_kinds={"photo": "照片", "document": "文件", "voice": "语音", "video": "视频"},
    members_only="抱歉，只有服务小组的成员可以处理工单。",
    not_in_your_groups="您所在的服务小组没有工单 {number}，请检查编号。",
)

DESK_EN = DeskTexts(
    status={
        "open": "waiting for a commissioner",
        "claimed": "in progress",
        "waiting": "waiting for your information",
        "resolved": "resolved (please confirm)",
        "closed": "closed",
    },
    provisional=" (estimated, pending the official holiday schedule)",
    no_roster="The commissioners' roster is not set up yet, so requests cannot be opened online.",
    choose_space="Which maker space are you in? Please choose:",
    space_set="Got it: you are at {space}.",
    unknown_space="I couldn't find that maker space; please pick one from the list.",
    intake_category="Let's open a service request. Which kind of matter is it? (/cancel stops)",
    intake_text="Please describe briefly what you need:",
    intake_phone="May the commissioner call you? Leave a phone number, or tap Skip.",
    skip_button="Skip",
    bad_phone="That number doesn't look right: 7–15 digits, please, or tap Skip.",
    intake_cancelled="Cancelled; no request was opened.",
    nothing_to_cancel="There is nothing to cancel.",
    opened=(
        "✅ Request {number} opened\n"
        "Category: {category}\n"
        "Handled by: {group} ({space})\n"
        "Reply due by: {due}{provisional}, {days} working days\n"
        "Send /tickets to follow it."
    ),
    no_requests="You have no requests yet. Send /new to open one.",
    my_requests_head="Your requests:",
    request_line="{number} | {category} | {status} | due {due}{provisional}{overdue}",
    overdue_mark=" ⚠ overdue",
    not_yours="You have no request {number}.",
    unknown_number="There is no request {number}; please check the number.",
    follow_up_added="Added to request {number}; the commissioners will see it.",
    confirm_button="Yes, solved",
    reopen_button="Not solved, reopen",
    rate_prompt="How was the service? (1–5 stars)",
    confirmed="Thanks! Request {number} is closed.",
    reopened="Request {number} is open again; the commissioners will follow up.",
    reopen_too_late=(
        "Request {number} was resolved more than {days} working days ago and cannot be "
        "reopened. Send /new for a new request."
    ),
    rated="Thank you for rating ({stars} stars)!",
    not_allowed="Request {number} is {status}; that isn't possible now.",
    reply_to_entrepreneur="💬 Request {number}, commissioner {name} replies:\n{text}",
    ask_entrepreneur=(
        "❓ Request {number}: commissioner {name} needs more information:\n{text}\n"
        "Just reply here. The reply deadline pauses until you do."
    ),
    resolved_to_entrepreneur="✅ Request {number} is resolved.\nResult: {text}\nIs it solved?",
    transferred_to_entrepreneur=(
        "Request {number} moved to {group}; the reply is due by {due}{provisional}."
    ),
    due_moved="Request {number} is now due by {due}{provisional} (was {old}).",
    card=(
        "📋 Request {number} | {category}\n"
        "Maker space: {space}\n"
        "From: {who}{phone}\n"
        "Text: {text}\n"
        "Due: {due}{provisional} | {status}{assignee}"
    ),
    card_follow_up="📎 Request {number}, the entrepreneur adds:\n{text}",
    member_only="Sorry, only members of {group} can act on request {number}.",
    member_usage=(
        "Commissioner commands: /open; /claim N; /reply N text; /ask N what you need; "
        "/resolve N result; /transfer N group-id"
    ),
    done="Done: request {number} {action}.",
    unknown_group="There is no service group {group}. Known: {groups}",
    open_list_head="Open requests of {group} (overdue first):",
    open_list_empty="{group} has no open requests.",
    remind_before="⏰ Reminder: request {number} ({status}) is due tomorrow ({due}).",
    remind_due="⏰ Reminder: request {number} ({status}) is due today ({due}), by 24:00.",
    escalation=(
        "🚨 Request {number} is overdue: it was due by {due} and is still {status}.\n"
        "{group}, {space}, {category}. Please act now."
    ),
    overdue_apology=(
        "We are sorry: request {number} was not answered by {due}. It is {status}; the service "
        "group and its supervisors have been asked to act at once."
    ),
    auto_closed="Request {number} was resolved {days} working days ago and is now closed.",
    calendar_alert=(
        "📅 The {year} holiday schedule is not known yet; {count} requests have estimated due "
        "dates. Add {year} to the working-day override file (BOT_CALENDAR) and send /reload."
    ),
    delivery_failed="⚠ A message of request {number} did not reach the entrepreneur ({reason}).",
    held="⏳ Not delivered yet: {reason}. It goes out as soon as the entrepreneur writes again.",
    reply_waiting="Your service request has a new reply: send the account any message to read it.",
    delivered="✓ Delivered to the entrepreneur",
    not_delivered="⚠ Not delivered to the entrepreneur: {reason}. Please reach them another way.",
    claim_button="🙋 Claim",
    ask_button="❓ Ask",
    resolve_button="✅ Resolve",
    transfer_button="↪ Transfer",
    ask_prompt="{name}, reply to the card of request {number} with what you need to know.",
    resolve_prompt="{name}, reply to the card of request {number} with the result.",
    transfer_prompt="Transfer request {number} to which service group?",
    card_assignee=" | handled by {name}",
    card_moved="↪ Request {number} went to {group}.",
    attachments_note="(Attached: {kinds}. They can't be shown here; ask the commissioner.)",
    group_attachments_note=(
        "(Attached: {kinds}, sent on another channel. They can't be shown here; "
        "ask the entrepreneur.)"
    ),
    attachment_kinds={"photo": "photo", "document": "file", "voice": "voice", "video": "video"},
    members_only="Sorry, only members of a service group can act on requests.",
    not_in_your_groups="Your service group has no request {number}; please check the number.",
)

_DESK_BY_LANGUAGE = {Language.ZH: DESK_ZH, Language.EN: DESK_EN}


def desk_texts_for(language: Language) -> DeskTexts:
    """The service-request phrases for ``language``."""
    return _DESK_BY_LANGUAGE[language]


GROUP_TEXTS = DESK_ZH
"""Duty groups and supervisors work in Chinese."""


@dataclass(frozen=True, slots=True)
class ConsoleTexts:
    """What the commissioners' web console says.

    Only in Chinese: duty groups and supervisors work in Chinese (as their cards do), and the
    console page itself is Chinese.
    """

    title: str
    signin_needed: str
    demo_signin: str
    not_in_roster: str
    signed_out: str
    link_title: str
    link_unknown: str
    link_used: str
    link_expired: str
    link_prompt: str
    link_checking: str
    signin_button: str
    back_to_chat: str
    bad_request: str
    incomplete: str
    not_json: str
    too_large: str
    text_needed: str
    text_too_long: str
    group_needed: str
    no_groups: str
    role_member: str
    role_supervisor: str
    role_admin: str
    anonymous: str
    actor_entrepreneur: str
    actor_system: str
    status: dict[str, str]
    event: dict[str, str]
    moved: str
    stars: str
    report_only: str
    report_bad_quarter: str
    report_district_needed: str
    report_link: str
    unavailable: str


CONSOLE_TEXTS = ConsoleTexts(
    title="服务专员控制台",
    signin_needed="请用管理员发给您的一次性登录链接进入控制台。",
    demo_signin="演示模式：点一位名册中的人员，以他的身份登录。",
    not_in_roster="您的账号已不在服务专员名册中，请联系管理员。",
    signed_out="您已退出登录。",
    link_title="无法登录",
    link_unknown="这个登录链接无效，请核对链接是否完整，或请管理员重新发一个。",
    link_used="这个登录链接已经用过了，每个链接只能用一次。请联系管理员重新发一个。",
    link_expired="这个登录链接已过期，请联系管理员重新发一个。",
    link_prompt="{name}，您好！点“登录”进入服务专员控制台。这个链接只能用一次。",
    link_checking="正在核对登录链接…",
    signin_button="登录",
    back_to_chat="返回众创助手",
    bad_request="没能读懂这个请求，请刷新页面后再试。",
    incomplete="网络中断了，内容没有收全，请再提交一次。",
    not_json="请求格式不对（需要 JSON），请刷新页面后再试。",
    too_large="内容太长了，请精简后再提交。",
    text_needed="请先填写内容再提交。",
    text_too_long="内容有 {length} 字，超过了 {limit} 字的上限，请精简后再提交。",
    group_needed="请选择要转交的服务小组。",
    no_groups="您不是任何服务小组的成员，这里没有您要处理的工单。",
    role_member="{group}成员",
    role_supervisor="{district}督导",
    role_admin="管理员",
    anonymous="创业者（未留名）",
    actor_entrepreneur="创业者",
    actor_system="系统",
    status={
        "open": "待认领",
        "claimed": "办理中",
        "waiting": "等创业者补充",
        "resolved": "已办结（待确认）",
        "closed": "已关闭",
    },
    event={
        "opened": "提交工单",
        "claim": "认领",
        "reply": "回复创业者",
        "ask": "请创业者补充",
        "resolve": "办结",
        "transferred": "转交",
        "follow_up": "创业者补充",
        "confirmed": "创业者确认已解决",
        "reopened": "创业者重新打开",
        "rated": "创业者评价",
        "due_changed": "答复期限调整",
        "auto_closed": "自动关闭",
    },
    moved="{old} → {new}",
    stars="{stars} 星",
    report_only="季报只有督导和管理员可以下载。",
    report_bad_quarter="季度写法不对，例如 2026Q4；格式可选 pdf、html、csv。",
    report_district_needed="您督导多个区，请选择其中一个区的季报。",
    report_link="{quarter}季报（{scope}）",
    unavailable="抱歉，系统暂时无法处理，刚才的操作没有生效。请过一会儿再试。",
)
