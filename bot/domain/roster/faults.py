"""What an admin is told about the roster file: every message, and the faults that carry them.

Each message says what is wrong and how to put it right, in Chinese; :mod:`.load` fills them in
and reports each as ``file:line: 说明``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RosterError", "RosterFault"]

UNREADABLE = "无法读取名册文件：{problem}"
YAML_ERROR = "YAML 格式错误：{problem}"
EMPTY = (
    "名册为空：请至少列出管理员（admins），"
    "或区（districts）、众创空间（spaces）和服务小组（groups）"
)
NOT_A_MAPPING = "名册顶层应是“键: 值”的映射（可用的键：{known}）"
UNKNOWN_KEY = "未知的键“{key}”{hint}（可用的键：{known}）"
DUPLICATE_KEY = "键“{key}”出现了两次，请合并为一处"
NOT_A_LIST = "{what}应是列表（每项以“- ”开头），例如 {example}"
NOT_AN_ITEM = "{what}应是“字段: 值”的映射，例如 {example}"
UNKNOWN_FIELD = "{what}中有未知字段“{field}”{hint}（可用字段：{known}）"
HINT = "，是不是“{name}”？"
DUPLICATE_FIELD = "{what}中字段“{field}”出现了两次"
MISSING_FIELD = "{what}缺少必填字段“{field}”"
EMPTY_FIELD = "{what}的字段“{field}”不能为空"
NOT_TEXT = "{what}的字段“{field}”应是一段文字"
BAD_ID = "{what}的 id“{id}”应由小写字母、数字和连字符组成（例如 baodi-g1）"
DUPLICATE_ID = "{kind} id“{id}”重复，第一次出现在第 {line} 行"
UNKNOWN_DISTRICT = "{what}所属的区“{district}”不在 districts 中（已有：{known}）"
NO_ACCOUNT = "{what}没有任何渠道账号：请至少写 telegram、wechat 或 web 中的一个"
NOT_INTEGER = "{what}的 telegram {kind}“{value}”应是整数，例如 {example}"
EMPTY_ACCOUNT = "{what}的 {channel} 账号不能为空"
DUPLICATE_PERSON = "{channel} 账号 {id} 在{where}中列了两次（第 {line} 行已列出）"
OTHER_PERSON = (
    "{channel} 账号 {id} 在第 {line} 行属于“{other}”，这里却写作“{name}”："
    "同一账号只能是同一个人，请核对账号或统一姓名"
)
NOT_A_CHAT_MAPPING = "{what}的 {field} 应是“渠道: 群聊 id”的映射，例如 {{telegram: -1002000000001}}"
UNKNOWN_CHANNEL = "{what}的 {field} 中有未知的渠道“{channel}”（可用：{known}）"
CHAT_TAKEN = "群聊 {channel} {id} 已是{owner}的群（第 {line} 行），每个服务小组需要自己的群"
TOO_FEW_MEMBERS = "{what}只有 {count} 名成员，第五条要求每组至少 {minimum} 人"
NO_ONSITE = (
    "{what}没有安排现场办公日（onsite），"
    "第六条要求每周至少 1 个工作日到众创空间现场办公，例如 onsite: {{baodi-eco: mon}}"
)
NOT_ONSITE_MAPPING = "{what}的 onsite 应是“众创空间 id: 星期几”的映射，例如 {{baodi-eco: mon}}"
UNKNOWN_SPACE = "{what}中的众创空间“{space}”不在 spaces 中（已有：{known}）"
BAD_WEEKDAY = "{what}中 {space} 的现场办公日“{value}”无效：请写 mon、tue、wed、thu、fri、sat 或 sun"
UNSERVED = "众创空间 {space} 没有服务小组负责：请在某个服务小组的 onsite 中加上“{space}: 星期几”"
UNKNOWN_GROUP = "{what}中的服务小组“{group}”不在 groups 中（已有：{known}）"
BAD_DATE = "{what}的 {field} 日期“{value}”无效：应写成 YYYY-MM-DD，如 2026-12-01"
REVERSED = "{what}的开始日期 {first} 晚于结束日期 {last}"
OVERLAP = (
    "众创空间 {space} 的轮值安排 {first} 至 {last} 与第 {line} 行的安排"
    "（{other_first} 至 {other_last}）重叠，同一天只能由一个服务小组值班"
)
UNEXPECTED = "{what}有误：{problem}"
NONE = "无"


@dataclass(frozen=True, slots=True)
class RosterFault:
    """A problem in the roster file that an admin must fix.

    Attributes:
        file: The roster file.
        line: 1-based line of the fault; 0 when it concerns the whole file.
        message: What is wrong and how to fix it, in Chinese.
    """

    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}: {self.message}"
        return f"{self.file}: {self.message}"


class RosterError(Exception):
    """The roster file cannot be used; the message lists every fault, one a line."""

    def __init__(self, faults: Iterable[RosterFault]) -> None:
        """Keep the faults (in line order); the message is one ``file:line: 说明`` a line."""
        self.faults = tuple(faults)
        super().__init__("\n".join(str(fault) for fault in self.faults))
