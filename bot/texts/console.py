"""What the web console says to commissioners, supervisors and admins (in Chinese)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CONSOLE_TEXTS", "ConsoleTexts"]


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
    },
    moved="{old} → {new}",
    moved_because="{moved}，原因：{reason}",
    channels={"web": "网页", "wechat": "微信", "telegram": "Telegram"},
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
)
