"""What the web console says to commissioners, supervisors and admins (in Chinese)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.messages import Language

__all__ = [
    "CONSOLE_TEXTS",
    "HOTLINE_EN",
    "HOTLINE_ZH",
    "ConsoleTexts",
    "HotlineTexts",
    "hotline_texts_for",
]


@dataclass(frozen=True, slots=True)
class ConsoleTexts:
    """What the commissioners' web console says.

    Only in Chinese: duty groups and supervisors work in Chinese (as their cards do), and the
    console page itself is Chinese.
    """

    title: str
    whole_city: str
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
    notices: dict[str, str]
    """A notice event by its kind: a reminder is not an escalation."""
    moved: str
    moved_because: str
    channels: dict[str, str]
    """How each intake channel is named on a card."""
    languages: dict[str, str]
    """How each language an entrepreneur reads is named on a card."""
    reason_needed: str
    reason_too_long: str
    district_only: str
    district_sections: dict[str, str]
    """The headings of a group's requests in a supervisor's view, by board section."""
    report_formats: dict[str, str]
    stars: str
    report_only: str
    report_bad_quarter: str
    report_district_needed: str
    unavailable: str
    files_not_here: str
    """Files sent with a move that carries no words to the entrepreneur (claim, transfer)."""
    files_too_many: str
    files_too_big: str
    file_too_big: str
    file_program: str
    file_unknown: str
    files_not_yours: str
    """A post with files about a request outside the member's groups: nothing was kept."""


CONSOLE_TEXTS = ConsoleTexts(
    whole_city="全市",
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
        "notice": "到期提醒",
    },
    notices={
        "remind-before": "到期提醒（前一工作日）",
        "remind-due": "到期提醒（当天）",
        "escalation": "超期升级",
    },
    moved="{old} → {new}",
    moved_because="{moved}，原因：{reason}",
    channels={
        "web": "网页",
        "wechat": "微信",
        "telegram": "Telegram",
        "hotline": "热线电话",
        "visit": "现场窗口",
    },
    languages={"zh": "中文", "en": "English"},
    reason_needed="请写明转交原因，接收的小组会看到。",
    reason_too_long="转交原因有 {length} 字，请控制在 {limit} 字以内。",
    district_only="只有督导可以查看辖区的工单。",
    district_sections={
        "overdue": "已超期",
        "due_soon": "两个工作日内到期",
        "active": "待办与办理中",
    },
    report_formats={"pdf": "PDF（含图表）", "html": "网页（HTML）", "csv": "表格（CSV）"},
    stars="{stars} 星",
    report_only="季报只有督导和管理员可以下载。",
    report_bad_quarter="季度写法不对，例如 2026Q4；格式可选 pdf、html、csv。",
    report_district_needed="您督导多个区，请选择其中一个区的季报。",
    unavailable="抱歉，系统暂时无法处理，刚才的操作没有生效。请过一会儿再试。",
    files_not_here="只有回复、补充材料和办结可以附文件。",
    files_too_many="一次最多附 {limit} 个文件，请分几次发送。",
    files_too_big="附件太大：每个文件最多 {limit} MB。什么都没有发出。",
    file_too_big="文件「{name}」超过 {limit} MB，没有发送。请压缩后再试，或分成几个文件。",
    file_program="文件「{name}」是程序，不能发送（无论扩展名是什么）。什么都没有发出。",
    file_unknown=(
        "文件「{name}」不是可以转交的类型：只能发图片（JPG、PNG、GIF、WebP）、PDF、Office 文档"
        "和 ZIP 压缩包。什么都没有发出。"
    ),
    files_not_yours="工单 {number} 不属于您的服务小组，文件没有保存，操作没有生效。",
)


# --- the hotline desk ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HotlineTexts:
    """What the console's hotline desk says: the form, its checks, and the intake channels.

    In both languages, for when the console follows its reader's; the console page is Chinese
    today, so it uses :data:`HOTLINE_ZH`.
    """

    members_only: str
    intake_needed: str
    caller_needed: str
    caller_too_long: str
    phone_needed: str
    phone_shape: str
    space_unknown: str
    category_unknown: str
    text_needed: str
    text_too_long: str
    no_spaces: str
    recorded: dict[str, str]
    """What the opening of a call's or a visit's request was, on its card."""
    told: dict[str, str]
    """What a reply, question or result given without a chat was: told by phone, in person."""
    intakes: dict[str, str]
    """Each intake channel's name (:class:`bot.messages.Intake`'s values)."""


HOTLINE_ZH = HotlineTexts(
    members_only="只有服务小组的成员可以登记来电。",
    intake_needed="请选择来源：热线电话或现场窗口。",
    caller_needed="请填写来电人姓名。",
    caller_too_long="来电人姓名最多 {limit} 个字。",
    phone_needed="请填写来电人的电话，服务专员要靠它答复。",
    phone_shape=(
        "电话号码格式不对：手机号是 1 开头的 11 位数字（如 13812345678），"
        "固定电话请带区号（如 022-12345678）。"
    ),
    space_unknown="没有找到这个众创空间，请从列表里选择。",
    category_unknown="请从列表里选择问题类别。",
    text_needed="请写下来电人反映的问题。",
    text_too_long="问题描述有 {length} 字，超过了 {limit} 字的上限，请精简后再提交。",
    no_spaces="今天没有由您的服务小组值班的众创空间，暂时不能登记来电。",
    recorded={"hotline": "登记来电", "visit": "登记来访"},
    told={"hotline": "已电话告知", "visit": "已当面告知"},
    intakes={
        "web": "网页",
        "telegram": "Telegram",
        "wechat": "微信",
        "hotline": "热线电话",
        "visit": "现场窗口",
    },
)

HOTLINE_EN = HotlineTexts(
    members_only="Only members of a service group can record a call.",
    intake_needed="Please choose where it came in: the hotline or the on-site desk.",
    caller_needed="Please enter the caller's name.",
    caller_too_long="The caller's name can be at most {limit} characters.",
    phone_needed="Please enter the caller's phone number: the reply goes to it.",
    phone_shape=(
        "That phone number does not look right: a mobile number is 11 digits starting with 1 "
        "(13812345678), a landline needs its area code (022-12345678)."
    ),
    space_unknown="No such maker space: please pick one from the list.",
    category_unknown="Please pick a category from the list.",
    text_needed="Please write down what the caller asked.",
    text_too_long="The question has {length} characters, over the {limit} limit: shorten it.",
    no_spaces="None of the maker spaces is your group's today, so no call can be recorded.",
    recorded={"hotline": "recorded a call", "visit": "recorded a visit"},
    told={"hotline": "told by phone", "visit": "told in person"},
    intakes={
        "web": "Web",
        "telegram": "Telegram",
        "wechat": "WeChat",
        "hotline": "Hotline",
        "visit": "On-site desk",
    },
)


def hotline_texts_for(language: Language) -> HotlineTexts:
    """The hotline desk's texts in ``language``."""
    return HOTLINE_EN if language is Language.EN else HOTLINE_ZH
