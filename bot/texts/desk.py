"""What the service desk says: to the entrepreneur about their request, and to the duty group.

The duty group reads Chinese (:data:`GROUP_TEXTS`); the entrepreneur reads their own language.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.messages import Language

__all__ = ["DESK_EN", "DESK_ZH", "GROUP_TEXTS", "DeskTexts", "desk_texts_for"]


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
    intake_draft: str
    """The text step when a question came along: the question, to keep or to rewrite."""
    keep_draft_button: str
    intake_summary: str
    no_phone: str
    submit_button: str
    edit_button: str
    cancel_button: str
    intake_edit: str
    edit_steps: dict[str, str]
    """The button of each step the summary's 修改 offers, by the step's name."""
    intake_stale: str
    """A button of a conversation that has ended: nothing changed."""
    new_question_offer: str
    """With a request open, text that looks like a new matter: add it, or open a new request."""
    add_to_request_button: str
    new_request_button: str
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
    already_rated: str
    """A star press after this result was rated (an older row of stars): nothing changes."""
    not_allowed: str
    reply_to_entrepreneur: str
    ask_entrepreneur: str
    resolved_to_entrepreneur: str
    transferred_to_entrepreneur: str
    due_moved: str
    card: str
    card_follow_up: str
    card_via: dict[str, str]
    """On the card after the entrepreneur's name: the channel they wrote on, by channel."""
    card_english: str
    """After that, for an entrepreneur who reads English (Chinese goes without saying)."""
    member_only: str
    member_usage: str
    done: str
    moves_done: dict[str, str]
    """What each member move did, as :attr:`done` says it, by the move's name."""
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
    reply_button: str
    """On a WeCom card, where a reply cannot be written under the card: the member's next
    message is the reply."""
    next_message_prompt: dict[str, str]
    """After a card's "ask", "resolve" or "reply" press on WeCom, by the move's name: the
    member's next message is the move's words."""
    named: str
    """A duty group's message as it reaches a WeCom member, who has no thread under the card:
    the request it is about first."""
    card_assignee: str
    card_moved: str
    card_arrived: str
    """Under a transferred request's new card, in the receiving group."""
    transfer_reason: str
    """Appended to the transfer notes of both groups."""
    reason_too_long: str
    attachments_note: str
    group_attachments_note: str
    """The same, under an entrepreneur's message in a duty group: whom to ask is them."""
    attachment_kinds: dict[str, str]
    spoken: str
    """Words that came as a voice message, as transcribed by the platform (WeChat's speech
    recognition): the reader knows a word may be misheard."""
    held: str
    """Under a commissioner's reply that WeChat will not take until the entrepreneur writes."""
    reply_waiting: str
    """The short push (WeChat template message) telling a user that a reply waits."""
    members_only: str
    """To a sender in no duty group who names a request: the same words whatever the number,
    so that numbers tell a stranger nothing."""
    not_in_your_groups: str
    taken: str
    not_on_duty_for: str
    tell_caller: str
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
    intake_draft="您刚才的问题是：\n“{draft}”\n就用这个问题，还是直接输入新的说明？",
    keep_draft_button="就用这个问题",
    intake_summary=(
        "请确认工单内容：\n类别：{category}\n事项：{text}\n电话：{phone}\n众创空间：{space}\n"
        "没问题就点“确认提交”。"
    ),
    no_phone="未留",
    submit_button="确认提交",
    edit_button="修改",
    cancel_button="取消",
    intake_edit="要修改哪一项？",
    edit_steps={"category": "类别", "text": "事项", "phone": "电话", "space": "众创空间"},
    intake_stale="这个按钮已经失效，没有做任何改动。需要提交工单，请发送 /new。",
    new_question_offer=("这条消息看起来是一个新问题。要补充到工单 {number}，还是作为新工单提交？"),
    add_to_request_button="补充到工单 {number}",
    new_request_button="作为新工单提交",
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
    already_rated="这次服务您已经评过分了（{stars} 星），谢谢！",
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
        "创业者：{who}{phone}（{via}{english}）\n"
        "内容：{text}\n"
        "答复期限：{due}{provisional}｜状态：{status}{assignee}"
    ),
    card_follow_up="📎 工单 {number}，创业者补充：\n{text}",
    card_via={
        "web": "网页",
        "wechat": "微信",
        "telegram": "Telegram",
        "hotline": "热线来电，请电话答复",
        "visit": "现场来访，请电话答复",
    },
    card_english="，说英文",
    member_only="抱歉，只有工单 {number} 所属服务小组（{group}）的成员可以处理它。",
    member_usage=(
        "服务专员命令：/open 查看待办；/claim 编号；/reply 编号 内容；"
        "/ask 编号 需补充的内容；/resolve 编号 办理结果；/transfer 编号 小组编号 [原因]"
    ),
    done="已完成：工单 {number} {action}。",
    moves_done={
        "claim": "已认领",
        "reply": "已回复创业者",
        "ask": "已请创业者补充，计时暂停",
        "resolve": "已办结",
        "transfer": "已转交",
    },
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
    reply_button="💬 回复",
    next_message_prompt={
        "ask": "{name}，请直接发送要请创业者补充的内容（工单 {number}，1 小时内有效）。",
        "resolve": "{name}，请直接发送工单 {number} 的办理结果（1 小时内有效）。",
        "reply": "{name}，请直接发送给创业者的回复（工单 {number}，1 小时内有效）。",
    },
    named="工单 {number}：{text}",
    card_assignee="｜承办：{name}",
    card_moved="↪ 工单 {number} 已转交给{group}。",
    card_arrived="↪ 工单 {number} 由{group}转来。",
    transfer_reason="\n转交原因：{reason}",
    reason_too_long="转交原因请控制在 {limit} 字以内。",
    attachments_note="（附件：{kinds}。这里显示不了，需要时请向服务专员索取。）",
    group_attachments_note="（附件：{kinds}。创业者在另一个渠道发送，这里显示不了，需要时请联系创业者。）",
    attachment_kinds={"photo": "照片", "document": "文件", "voice": "语音", "video": "视频"},
    spoken="{text}（语音转文字）",
    members_only="抱歉，只有服务小组的成员可以处理工单。",
    not_in_your_groups="您所在的服务小组没有工单 {number}，请检查编号。",
    taken=(
        "☎ 工单已登记：{number}\n"
        "来电人：{caller}\n"
        "承办：{group}（{space}）\n"
        "答复期限：{due}{provisional}，共 {days} 个工作日\n"
        "请把工单编号和答复期限告诉来电人。"
    ),
    not_on_duty_for="{space}今天由{group}值班，您不在这个小组，请转给他们登记。",
    tell_caller="这个工单没有在线会话，请电话或当面把内容告诉来电人。",
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
    intake_draft='You asked:\n"{draft}"\nUse this question, or type a new description?',
    keep_draft_button="Use this question",
    intake_summary=(
        "Please check your request:\nKind: {category}\nWhat you need: {text}\nPhone: {phone}\n"
        "Maker space: {space}\nTap Submit if it's right."
    ),
    no_phone="none",
    submit_button="Submit",
    edit_button="Change",
    cancel_button="Cancel",
    intake_edit="What would you like to change?",
    edit_steps={
        "category": "Kind",
        "text": "What you need",
        "phone": "Phone",
        "space": "Maker space",
    },
    intake_stale="That button has expired; nothing changed. Send /new to open a request.",
    new_question_offer=(
        "This looks like a new question. Add it to request {number}, or open a new request?"
    ),
    add_to_request_button="Add to request {number}",
    new_request_button="Open a new request",
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
    already_rated="You already rated this result ({stars} stars). Thank you!",
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
        "From: {who}{phone} ({via}{english})\n"
        "Text: {text}\n"
        "Due: {due}{provisional} | {status}{assignee}"
    ),
    card_follow_up="📎 Request {number}, the entrepreneur adds:\n{text}",
    card_via={
        "web": "web chat",
        "wechat": "WeChat",
        "telegram": "Telegram",
        "hotline": "hotline call: reply by phone",
        "visit": "desk visit: reply by phone",
    },
    card_english=", reads English",
    member_only="Sorry, only members of {group} can act on request {number}.",
    member_usage=(
        "Commissioner commands: /open; /claim N; /reply N text; /ask N what you need; "
        "/resolve N result; /transfer N group-id [reason]"
    ),
    done="Done: request {number} {action}.",
    moves_done={
        "claim": "claimed",
        "reply": "replied",
        "ask": "asked the entrepreneur; the clock pauses",
        "resolve": "resolved",
        "transfer": "transferred",
    },
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
    reply_button="💬 Reply",
    next_message_prompt={
        "ask": "{name}, send what you need to know for request {number} (within an hour).",
        "resolve": "{name}, send the result of request {number} (within an hour).",
        "reply": "{name}, send your reply for request {number} (within an hour).",
    },
    named="Request {number}: {text}",
    card_assignee=" | handled by {name}",
    card_moved="↪ Request {number} went to {group}.",
    card_arrived="↪ Request {number} came from {group}.",
    transfer_reason="\nReason: {reason}",
    reason_too_long="Please keep the reason for a transfer under {limit} characters.",
    attachments_note="(Attached: {kinds}. They can't be shown here; ask the commissioner.)",
    group_attachments_note=(
        "(Attached: {kinds}, sent on another channel. They can't be shown here; "
        "ask the entrepreneur.)"
    ),
    attachment_kinds={"photo": "photo", "document": "file", "voice": "voice", "video": "video"},
    spoken="{text} (voice message, transcribed)",
    members_only="Sorry, only members of a service group can act on requests.",
    not_in_your_groups="Your service group has no request {number}; please check the number.",
    taken=(
        "☎ Request {number} recorded\n"
        "Caller: {caller}\n"
        "Handled by: {group} ({space})\n"
        "Reply due by: {due}{provisional}, {days} working days\n"
        "Please tell the caller the number and the due date."
    ),
    not_on_duty_for="{group} is on duty for {space} today and you are not in it: pass the call on.",
    tell_caller="This request has no chat: please tell the caller by phone or in person.",
)

_DESK_BY_LANGUAGE = {Language.ZH: DESK_ZH, Language.EN: DESK_EN}


def desk_texts_for(language: Language) -> DeskTexts:
    """The service-request phrases for ``language``."""
    return _DESK_BY_LANGUAGE[language]


GROUP_TEXTS = DESK_ZH
"""Duty groups and supervisors work in Chinese."""
