"""The roster: loading, duty groups, roles, and every fault named with its line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.domain.roster.faults import RosterError, RosterFault
from bot.domain.roster.load import DEMO_ROSTER, load_roster
from bot.domain.roster.model import Roster, Weekday
from bot.messages import Channel

# A small valid roster; the fault cases below edit it. Line numbers are found from markers
# ("# !") rather than written down, so the cases survive edits to this text.
ROSTER = """\
districts:
  - id: baodi
    name: 宝坻区
    supervisors:
      - {name: 区科委值班, telegram: 9101, web: duty}
    supervisors_chat: {telegram: -1009100000001}
  - id: wuqing
    name: 武清区
spaces:
  - {id: eco, name: 节能环保工业园区众创空间, district: baodi}
  - {id: pku, name: 北大科技园众创空间, district: baodi}
groups:
  - id: g1
    name: 服务一组
    district: baodi
    chat: {telegram: -1002000000001}
    members:
      - {name: 张伟, telegram: 2001, wechat: o-zhangwei, web: zhangwei}
      - {name: 李娜, telegram: 2002}
    onsite: {eco: mon}
  - id: g2
    name: 服务二组
    district: baodi
    chat: {telegram: -1002000000002}
    members:
      - {name: 王芳, telegram: 2003}
      - {name: 刘洋, telegram: 2004}
      - {name: 张伟, telegram: 2001}
    onsite: {pku: thu, eco: fri}
rota:
  - {space: eco, group: g2, from: 2026-12-01, to: 2026-12-31}
admins:
  - {name: 管理员, telegram: 9001, web: admin}
  - {name: 区科委值班, telegram: 9101}
"""

MARK = "# !"
ZHANG = "      - {name: 张伟, telegram: 2001, wechat: o-zhangwei, web: zhangwei}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roster.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def faults_of(tmp_path: Path, text: str) -> tuple[RosterFault, ...]:
    path = write(tmp_path, text)
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    return caught.value.faults


def marked_line(text: str) -> int:
    """The 1-based line carrying the marker."""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if MARK in line]
    assert len(lines) == 1, f"one marked line expected, found {lines}"
    return lines[0]


def edit(old: str, new: str) -> str:
    assert ROSTER.count(old) == 1, old
    return ROSTER.replace(old, new)


@pytest.fixture
def roster(tmp_path: Path) -> Roster:
    return load_roster(write(tmp_path, ROSTER))


# --- the shipped demo roster -------------------------------------------------------------------


def test_the_shipped_demo_roster_loads() -> None:
    demo = load_roster(DEMO_ROSTER)
    assert [s.id for s in demo.spaces] == [
        "baodi-eco",
        "baodi-lowcarbon",
        "baodi-pku",
        "baodi-tsinghua",
        "baodi-guancheng",
        "baodi-jjxc",
    ]
    assert [g.id for g in demo.groups] == ["baodi-g1", "baodi-g2"]
    assert demo.duty_group("baodi-eco", date(2026, 12, 15)).id == "baodi-g2"
    assert demo.duty_group("baodi-eco", date(2027, 1, 4)).id == "baodi-g1"


def test_everyone_in_the_demo_roster_can_sign_in_to_the_web_console() -> None:
    demo = load_roster(DEMO_ROSTER)
    people = [
        *(p for d in demo.districts for p in d.supervisors),
        *(p for g in demo.groups for p in g.members),
        *demo.admins,
    ]
    assert people
    web_ids = [p.id_on("web") for p in people]
    assert None not in web_ids
    assert len(set(web_ids)) == len(web_ids)
    assert demo.roles_of("web", "admin").is_admin
    assert demo.roles_of("web", "zhangwei").member_of == {"baodi-g1"}
    assert demo.roles_of("web", "duty-baodi").supervisor_of == {"baodi"}


# --- the model ---------------------------------------------------------------------------------


def test_parts_are_read_in_file_order(roster: Roster) -> None:
    assert [d.id for d in roster.districts] == ["baodi", "wuqing"]
    assert [s.id for s in roster.spaces] == ["eco", "pku"]
    assert [g.id for g in roster.groups] == ["g1", "g2"]
    assert roster.space("pku").name == "北大科技园众创空间"
    assert roster.space("pku").district == "baodi"
    assert roster.district("baodi").name == "宝坻区"
    g1 = roster.group("g1")
    assert g1.name == "服务一组"
    assert dict(g1.chat) == {"telegram": "-1002000000001"}
    assert [m.name for m in g1.members] == ["张伟", "李娜"]
    assert dict(g1.members[0].ids) == {
        "telegram": "2001",
        "wechat": "o-zhangwei",
        "web": "zhangwei",
    }
    assert dict(g1.onsite) == {"eco": Weekday.MON}
    assert roster.source is not None


def test_unknown_ids_raise_key_error(roster: Roster) -> None:
    with pytest.raises(KeyError):
        roster.space("nowhere")
    with pytest.raises(KeyError):
        roster.group("g9")
    with pytest.raises(KeyError):
        roster.district("tianjin")
    with pytest.raises(KeyError):
        roster.duty_group("nowhere", date(2026, 12, 1))


def test_the_roster_cannot_be_changed(roster: Roster) -> None:
    group = roster.group("g1")
    with pytest.raises(TypeError):
        group.chat["telegram"] = "1"  # type: ignore[index]
    with pytest.raises(AttributeError):
        group.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("space", "day", "group"),
    [
        pytest.param("eco", date(2026, 11, 30), "g1", id="onsite-before-rota"),
        pytest.param("eco", date(2026, 12, 1), "g2", id="rota-first-day"),
        pytest.param("eco", date(2026, 12, 15), "g2", id="rota-inside"),
        pytest.param("eco", date(2026, 12, 31), "g2", id="rota-last-day"),
        pytest.param("eco", date(2027, 1, 1), "g1", id="onsite-after-rota"),
        # eco is also on g2's onsite list: the first group in file order wins.
        pytest.param("eco", date(2027, 3, 5), "g1", id="first-onsite-group-wins"),
        pytest.param("pku", date(2026, 12, 15), "g2", id="onsite-only"),
    ],
)
def test_duty_group(roster: Roster, space: str, day: date, group: str) -> None:
    assert roster.duty_group(space, day).id == group


def test_onsite_day(roster: Roster) -> None:
    assert roster.group("g1").onsite.get("eco") is Weekday.MON
    assert roster.group("g2").onsite.get("eco") is Weekday.FRI
    assert roster.group("g1").onsite.get("pku") is None
    with pytest.raises(KeyError):
        roster.group("g9")
    assert Weekday.THU.code == "thu"
    assert Weekday.THU.zh == "周四"
    assert date(2026, 12, 3).weekday() == Weekday.THU


def test_rota_entries(roster: Roster) -> None:
    (entry,) = roster.rota
    assert (entry.space, entry.group) == ("eco", "g2")
    assert (entry.first_day, entry.last_day) == (date(2026, 12, 1), date(2026, 12, 31))


# --- roles -------------------------------------------------------------------------------------


def test_an_admin(roster: Roster) -> None:
    roles = roster.roles_of("telegram", "9001")
    assert roles.is_admin
    assert roles.person is not None
    assert roles.person.name == "管理员"
    assert roles.member_of == frozenset()
    assert roles.supervisor_of == frozenset()
    assert roster.roles_of("web", "admin").is_admin
    assert roster.admin_accounts == {("telegram", "9001"), ("web", "admin"), ("telegram", "9101")}


def test_a_supervisor_who_is_also_an_admin(roster: Roster) -> None:
    roles = roster.roles_of("telegram", "9101")
    assert roles.supervisor_of == {"baodi"}
    assert roles.is_admin
    assert roles.member_of == frozenset()
    assert roster.roles_of("web", "duty").supervisor_of == {"baodi"}
    assert roster.supervisors_chat("baodi") == {"telegram": "-1009100000001"}
    assert roster.supervisors_chat("wuqing") == {}
    assert roster.supervisors_chat("tianjin") == {}


def test_a_member_of_two_groups(roster: Roster) -> None:
    roles = roster.roles_of("telegram", "2001")
    assert roles.member_of == {"g1", "g2"}
    assert not roles.is_admin
    assert roles.person is not None
    assert roles.person.name == "张伟"
    assert roles.person.id_on("web") == "zhangwei"  # the first listing names the person
    assert roster.is_member("g1", "telegram", "2001")
    assert roster.is_member("g2", "telegram", "2001")
    # Roles follow accounts, not names: g2 lists only his Telegram account.
    for channel, user_id in [("wechat", "o-zhangwei"), ("web", "zhangwei")]:
        assert roster.roles_of(channel, user_id).member_of == {"g1"}
        assert roster.is_member("g1", channel, user_id)
        assert not roster.is_member("g2", channel, user_id)


def test_a_member_of_one_group(roster: Roster) -> None:
    roles = roster.roles_of("telegram", "2002")
    assert roles.member_of == {"g1"}
    assert roster.is_member("g1", "telegram", "2002")
    assert not roster.is_member("g2", "telegram", "2002")
    assert [p.name for p in roster.group("g2").members] == ["王芳", "刘洋", "张伟"]
    with pytest.raises(KeyError):
        roster.group("g9")


def test_a_stranger(roster: Roster) -> None:
    roles = roster.roles_of("web", "e1")
    assert roles.person is None
    assert not roles.is_admin
    assert roles.member_of == frozenset()
    assert roles.supervisor_of == frozenset()
    # The same number on another channel is another account.
    assert roster.roles_of("web", "2001").member_of == frozenset()
    assert not roster.is_member("g1", "web", "e1")


def test_channels_may_be_given_as_the_message_enum(roster: Roster) -> None:
    assert roster.roles_of(Channel.TELEGRAM, "9001").is_admin
    assert roster.is_member("g1", Channel.WEB, "zhangwei")
    assert roster.group_for_chat(Channel.TELEGRAM, "-1002000000002") is roster.group("g2")


def test_group_for_chat(roster: Roster) -> None:
    assert roster.group_for_chat("telegram", "-1002000000001") is roster.group("g1")
    assert roster.group_for_chat("telegram", "-1002000000002") is roster.group("g2")
    assert roster.group_for_chat("telegram", "-1009100000001") is None  # the supervisors' chat
    assert roster.group_for_chat("wechat", "-1002000000001") is None
    assert roster.group_for_chat("telegram", "2001") is None


def test_people_lists_each_listing_once(roster: Roster) -> None:
    assert [p.name for p in roster.people] == [
        "区科委值班",
        "张伟",
        "李娜",
        "王芳",
        "刘洋",
        "张伟",  # listed again in g2, with Telegram only
        "管理员",
        "区科委值班",  # listed again as an admin, without the web account
    ]


def test_telegram_ids_are_normalised(tmp_path: Path) -> None:
    text = edit("{name: 李娜, telegram: 2002}", "{name: 李娜, telegram: '+02002'}")
    roster = load_roster(write(tmp_path, text))
    assert roster.is_member("g1", "telegram", "2002")


def test_a_member_may_be_listed_by_wecom_userid(tmp_path: Path) -> None:
    # Rosters written before WeCom stay valid (the rest of this file); a member gains a wecom
    # id, and the roles follow that account on WeCom only.
    text = edit("{name: 李娜, telegram: 2002}", "{name: 李娜, telegram: 2002, wecom: LiNa}")
    roster = load_roster(write(tmp_path, text))
    assert roster.is_member("g1", "wecom", "LiNa")
    assert roster.roles_of("wecom", "LiNa").person == roster.roles_of("telegram", "2002").person
    assert not roster.is_member("g1", "wecom", "2002")
    with pytest.raises(RosterError, match="wecom"):  # WeCom reaches people, not chats
        load_roster(write(tmp_path, text.replace("telegram: -1002000000001", "wecom: g1")))


# --- empty and admin-only rosters ----------------------------------------------------------------


def test_the_empty_roster() -> None:
    empty = Roster.empty()
    assert empty.spaces == ()
    assert empty.groups == ()
    assert empty.districts == ()
    assert empty.rota == ()
    assert empty.people == ()
    assert empty.roles_of("telegram", "9001") == empty.roles_of("web", "x")
    assert not empty.roles_of("telegram", "9001").is_admin
    assert empty.group_for_chat("telegram", "-1") is None


def test_a_roster_of_admins_only_is_valid(tmp_path: Path) -> None:
    roster = load_roster(write(tmp_path, "admins:\n  - {name: 管理员, telegram: 9001}\n"))
    assert roster.spaces == ()
    assert roster.roles_of("telegram", "9001").is_admin


def test_empty_sections_are_allowed(tmp_path: Path) -> None:
    text = ROSTER.replace(
        "rota:\n  - {space: eco, group: g2, from: 2026-12-01, to: 2026-12-31}\n", "rota:\n"
    )
    assert load_roster(write(tmp_path, text)).rota == ()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty-file"),
        pytest.param("# 名册\n# nothing yet\n", id="comments-only"),
        pytest.param("{}\n", id="empty-mapping"),
        pytest.param("districts: []\nspaces:\ngroups: []\nadmins: []\n", id="empty-sections"),
    ],
)
def test_a_roster_that_lists_nobody_is_a_fault(tmp_path: Path, text: str) -> None:
    (fault,) = faults_of(tmp_path, text)
    assert fault.line == 0
    assert "名册为空" in fault.message
    assert str(fault) == f"{tmp_path / 'roster.yaml'}: {fault.message}"


def test_a_missing_file_is_a_fault(tmp_path: Path) -> None:
    with pytest.raises(RosterError) as caught:
        load_roster(tmp_path / "nowhere.yaml")
    (fault,) = caught.value.faults
    assert "无法读取名册文件" in fault.message


def test_the_admins_accounts_are_read_from_the_file(tmp_path: Path) -> None:
    assert load_roster(write(tmp_path, ROSTER)).admin_accounts == {
        ("telegram", "9001"),
        ("web", "admin"),
        ("telegram", "9101"),
    }
    with pytest.raises(RosterError):
        load_roster(write(tmp_path, "admins: [\n"))


# --- faults: each names its line -----------------------------------------------------------------

FAULTS = [
    pytest.param(
        # The "}" missing at the end of a line is noticed on the next one.
        edit(
            "district: baodi}\n  - {id: pku, name: 北大科技园众创空间, district: baodi}\n",
            "district: baodi\n"
            f"  - {{id: pku, name: 北大科技园众创空间, district: baodi}}  {MARK}\n",
        ),
        "YAML 格式错误",
        id="yaml-syntax",
    ),
    pytest.param(
        f"- {{name: 管理员, telegram: 9001}}  {MARK}\n", "名册顶层应是", id="top-not-mapping"
    ),
    pytest.param(
        edit("admins:\n", f"admin:  {MARK}\n  - {{name: 甲, telegram: 1}}\nadmins:\n"),
        "未知的键“admin”，是不是“admins”？（可用的键：districts、spaces、groups、rota、admins）",
        id="unknown-top-level-key",
    ),
    pytest.param(
        edit("rota:\n", f"spaces:  {MARK}\nrota:\n"),
        "键“spaces”出现了两次",
        id="duplicate-top-level-key",
    ),
    pytest.param(
        edit(
            "    members:\n      - {name: 张伟, telegram: 2001, wechat",
            f"    memebers:  {MARK}\n      - {{name: 张伟, telegram: 2001, wechat",
        ),
        "服务小组 g1 中有未知字段“memebers”",
        id="unknown-field-in-group",
    ),
    pytest.param(
        edit("{name: 李娜, telegram: 2002}", f"{{name: 李娜, telegarm: 2002}}  {MARK}"),
        "服务小组 g1 的成员“李娜”中有未知字段“telegarm”",
        id="unknown-field-in-person",
    ),
    pytest.param(
        edit("    name: 服务一组\n", f"    name: 服务一组\n    name: 一组  {MARK}\n"),
        "服务小组 g1 中字段“name”出现了两次",
        id="duplicate-field",
    ),
    pytest.param(
        edit("  - id: g1\n    name: 服务一组\n", f"  - id: g1  {MARK}\n"),
        "服务小组 g1 缺少必填字段“name”",
        id="missing-field",
    ),
    pytest.param(
        edit(
            "    district: baodi\n    chat: {telegram: -1002000000001}",
            f"    district:  {MARK}\n    chat: {{telegram: -1002000000001}}",
        ),
        "服务小组 g1 的字段“district”不能为空",
        id="empty-field",
    ),
    pytest.param(
        edit("    name: 服务一组\n", f"    name: [服务, 一组]  {MARK}\n"),
        "服务小组 g1 的字段“name”应是一段文字",
        id="field-not-text",
    ),
    pytest.param(
        edit("  - id: g2\n", f"  - id: g1  {MARK}\n"),
        "服务小组 id“g1”重复，第一次出现在第 13 行",
        id="duplicate-group-id",
    ),
    pytest.param(
        edit("{id: pku,", "{id: eco,").replace(
            "district: baodi}\ngroups:", f"district: baodi}}  {MARK}\ngroups:"
        ),
        "众创空间 id“eco”重复，第一次出现在第 10 行",
        id="duplicate-space-id",
    ),
    pytest.param(
        edit("  - id: wuqing\n", f"  - id: baodi  {MARK}\n"),
        "区 id“baodi”重复，第一次出现在第 2 行",
        id="duplicate-district-id",
    ),
    pytest.param(
        edit("  - id: g2\n", f"  - id: G2_second  {MARK}\n"),
        "id“G2_second”应由小写字母、数字和连字符组成",
        id="bad-id",
    ),
    pytest.param(
        edit(
            "{id: pku, name: 北大科技园众创空间, district: baodi}",
            f"{{id: pku, name: 北大科技园众创空间, district: baodl}}  {MARK}",
        ),
        "众创空间 pku 所属的区“baodl”不在 districts 中（已有：baodi、wuqing）",
        id="space-unknown-district",
    ),
    pytest.param(
        edit(
            "    name: 服务二组\n    district: baodi\n",
            f"    name: 服务二组\n    district: tianjin  {MARK}\n",
        ),
        "服务小组 g2 所属的区“tianjin”不在 districts 中",
        id="group-unknown-district",
    ),
    pytest.param(
        edit(
            f"    members:\n{ZHANG}",
            f"    members:  {MARK}\n",
        ),
        "服务小组 g1 只有 1 名成员，第五条要求每组至少 2 人",
        id="one-member",
    ),
    pytest.param(
        edit(
            f"    members:\n{ZHANG}      - {{name: 李娜, telegram: 2002}}\n",
            f"    members: []  {MARK}\n",
        ),
        "服务小组 g1 只有 0 名成员，第五条要求每组至少 2 人",
        id="no-members",
    ),
    pytest.param(
        edit("{name: 李娜, telegram: 2002}", f"{{name: 李娜}}  {MARK}"),
        "服务小组 g1 的成员“李娜”没有任何渠道账号",
        id="person-without-account",
    ),
    pytest.param(
        edit("{name: 李娜, telegram: 2002}", f"{{name: 李娜, telegram: 2001}}  {MARK}"),
        "telegram 账号 2001 在服务小组 g1 的成员名单中列了两次（第 18 行已列出）",
        id="same-person-twice-in-a-group",
    ),
    pytest.param(
        edit(
            "{name: 刘洋, telegram: 2004}", f"{{name: 刘洋, telegram: 2004, web: zhangwei}}  {MARK}"
        ),
        "web 账号 zhangwei 在第 18 行属于“张伟”，这里却写作“刘洋”：同一账号只能是同一个人",
        id="one-account-two-people",
    ),
    pytest.param(
        edit(
            "  - {name: 区科委值班, telegram: 9101}\n",
            f"  - {{name: 管理员, web: admin}}  {MARK}\n",
        ),
        "web 账号 admin 在管理员名单中列了两次",
        id="same-admin-twice",
    ),
    pytest.param(
        edit("{name: 李娜, telegram: 2002}", f"{{name: 李娜, telegram: '@lina'}}  {MARK}"),
        "服务小组 g1 的成员“李娜”的 telegram 用户 id“@lina”应是整数",
        id="telegram-user-id-not-integer",
    ),
    pytest.param(
        edit("{name: 李娜, telegram: 2002}", f"{{name: 李娜, telegram: 2002, wechat: }}  {MARK}"),
        "服务小组 g1 的成员“李娜”的 wechat 账号不能为空",
        id="empty-account",
    ),
    pytest.param(
        edit(
            "    chat: {telegram: -1002000000002}\n",
            f"    chat: {{telegram: mygroup}}  {MARK}\n",
        ),
        "服务小组 g2 的 telegram 群聊 id“mygroup”应是整数",
        id="telegram-chat-id-not-integer",
    ),
    pytest.param(
        edit(
            "    chat: {telegram: -1002000000002}\n",
            f"    chat: {{telegram: -1002000000001}}  {MARK}\n",
        ),
        "群聊 telegram -1002000000001 已是服务小组 g1 的群（第 16 行），每个服务小组需要自己的群",
        id="chat-shared-by-two-groups",
    ),
    pytest.param(
        edit(
            "    chat: {telegram: -1002000000002}\n",
            f"    chat: {{qq: 12345}}  {MARK}\n",
        ),
        "服务小组 g2 的 chat 中有未知的渠道“qq”",
        id="unknown-chat-channel",
    ),
    pytest.param(
        edit(
            "    chat: {telegram: -1002000000002}\n",
            f"    chat: -1002000000002  {MARK}\n",
        ),
        "服务小组 g2 的 chat 应是“渠道: 群聊 id”的映射",
        id="chat-not-mapping",
    ),
    pytest.param(
        edit("    onsite: {eco: mon}\n", f"    onsite: {{eco: mon, nowhere: tue}}  {MARK}\n"),
        "服务小组 g1 的 onsite 中的众创空间“nowhere”不在 spaces 中（已有：eco、pku）",
        id="onsite-unknown-space",
    ),
    pytest.param(
        edit("    onsite: {eco: mon}\n", f"    onsite: {{eco: 周八}}  {MARK}\n"),
        "eco 的现场办公日“周八”无效：请写 mon、tue、wed、thu、fri、sat 或 sun",
        id="onsite-bad-weekday",
    ),
    pytest.param(
        edit("    onsite: {eco: mon}\n", f"    onsite: {{}}  {MARK}\n"),
        "服务小组 g1 没有安排现场办公日（onsite），第六条要求每周至少 1 个工作日",
        id="onsite-empty",
    ),
    pytest.param(
        edit("    onsite: {eco: mon}\n", f"    onsite: [eco, mon]  {MARK}\n"),
        "服务小组 g1 的 onsite 应是“众创空间 id: 星期几”的映射",
        id="onsite-not-mapping",
    ),
    pytest.param(
        edit(
            "groups:\n",
            f"  - {{id: lonely, name: 无人众创空间, district: wuqing}}  {MARK}\ngroups:\n",
        ),
        "众创空间 lonely 没有服务小组负责：请在某个服务小组的 onsite 中加上“lonely: 星期几”",
        id="space-nobody-serves",
    ),
    pytest.param(
        edit("{space: eco, group: g2,", "{space: ecco, group: g2,").replace(
            "2026-12-31}", f"2026-12-31}}  {MARK}"
        ),
        "轮值安排中的众创空间“ecco”不在 spaces 中",
        id="rota-unknown-space",
    ),
    pytest.param(
        edit("{space: eco, group: g2,", "{space: eco, group: g3,").replace(
            "2026-12-31}", f"2026-12-31}}  {MARK}"
        ),
        "轮值安排中的服务小组“g3”不在 groups 中（已有：g1、g2）",
        id="rota-unknown-group",
    ),
    pytest.param(
        edit(
            "  - {space: eco, group: g2, from: 2026-12-01, to: 2026-12-31}\n",
            f"  - space: eco\n    group: g2\n    from: 2026-12-01\n    to: 2026-02-30  {MARK}\n",
        ),
        "轮值安排的 to 日期“2026-02-30”无效：应写成 YYYY-MM-DD",
        id="rota-bad-date",
    ),
    pytest.param(
        edit(
            "  - {space: eco, group: g2, from: 2026-12-01, to: 2026-12-31}\n",
            f"  - space: eco\n    group: g2\n    from: 1 December  {MARK}\n    to: 2026-12-31\n",
        ),
        "轮值安排的 from 日期“1 December”无效",
        id="rota-date-in-words",
    ),
    pytest.param(
        edit(
            "  - {space: eco, group: g2, from: 2026-12-01, to: 2026-12-31}\n",
            f"  - space: eco\n    group: g2\n    from: 2026-12-31  {MARK}\n    to: 2026-12-01\n",
        ),
        "轮值安排的开始日期 2026-12-31 晚于结束日期 2026-12-01",
        id="rota-from-after-to",
    ),
    pytest.param(
        edit(
            "admins:\n",
            f"  - {{space: eco, group: g1, from: 2026-12-31, to: 2027-01-15}}  {MARK}\nadmins:\n",
        ),
        "众创空间 eco 的轮值安排 2026-12-31 至 2027-01-15 与第 31 行的安排"
        "（2026-12-01 至 2026-12-31）重叠",
        id="rota-overlap",
    ),
    pytest.param(
        edit(
            "  - {space: eco, group: g2, from: 2026-12-01, to: 2026-12-31}\n",
            f"  - {{space: eco, group: g2, from: 2026-12-01}}  {MARK}\n",
        ),
        "轮值安排缺少必填字段“to”",
        id="rota-missing-to",
    ),
    pytest.param(
        edit(
            "admins:\n  - {name: 管理员, telegram: 9001, web: admin}\n"
            "  - {name: 区科委值班, telegram: 9101}\n",
            f"admins:\n  {{name: 管理员, telegram: 9001, web: admin}}  {MARK}\n",
        ),
        "管理员名单应是列表",
        id="admins-not-a-list",
    ),
    pytest.param(
        edit("  - {name: 区科委值班, telegram: 9101}\n", f"  - 张三  {MARK}\n"),
        "管理员应是“字段: 值”的映射",
        id="admin-not-a-mapping",
    ),
]


@pytest.mark.parametrize(("text", "message"), FAULTS)
def test_each_fault_is_named_with_its_line(tmp_path: Path, text: str, message: str) -> None:
    faults = faults_of(tmp_path, text)
    line = marked_line(text)
    found = [(f.line, f.message) for f in faults]
    assert any(f_line == line and message in f_message for f_line, f_message in found), found
    for fault in faults:
        assert fault.file == tmp_path / "roster.yaml"


def test_faults_do_not_cascade(tmp_path: Path) -> None:
    # A misspelt field is one fault, not also a missing field (or a person without accounts).
    (fault,) = faults_of(tmp_path, edit("    onsite: {eco: mon}", "    onsight: {eco: mon}"))
    assert fault.message.startswith("服务小组 g1 中有未知字段“onsight”，是不是“onsite”？")
    (fault,) = faults_of(tmp_path, edit("{name: 李娜, telegram: 2002}", "{name: 李娜, tg: 2002}"))
    assert "未知字段“tg”" in fault.message
    # A duplicate id is reported, and the duplicate is still checked, but nothing else follows
    # from it: the space that only the duplicate serves is not reported as unserved.
    text = edit("  - id: g2\n", "  - id: g1\n").replace("group: g2", "group: g1")
    (fault,) = faults_of(tmp_path, text)
    assert "服务小组 id“g1”重复" in fault.message
    # A typo in one member is one fault: the group still counts two members, and the space
    # the faulty group serves is not reported as unserved.
    text = edit("{name: 李娜, telegram: 2002}", "{name: 李娜, telegram: x}")
    (fault,) = faults_of(tmp_path, text)
    assert "应是整数" in fault.message
    # An unknown district is reported where it is named, not again for every space.
    text = edit("  - id: baodi\n    name: 宝坻区\n", "  - id: baodi2\n    name: 宝坻区\n")
    faults = faults_of(tmp_path, text)
    assert all("baodi" in f.message and "不在 districts 中" in f.message for f in faults)
    assert len(faults) == 4  # two spaces, two groups


def test_several_faults_are_all_reported_in_line_order(tmp_path: Path) -> None:
    text = (
        ROSTER.replace("    members:\n      - {name: 张伟", "    memebers:\n      - {name: 张伟")
        .replace("{name: 刘洋, telegram: 2004}", "{name: 刘洋, telegram: liuyang}")
        .replace("onsite: {pku: thu, eco: fri}", "onsite: {pku: thursday, eco: fri}")
        .replace("to: 2026-12-31}", "to: 2026-11-30}")
        .replace("web: admin}", "web: admin, phone: 13800000000}")
    )
    path = write(tmp_path, text)
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    faults = caught.value.faults
    expected = [
        (17, "未知字段“memebers”，是不是“members”？"),
        (27, "telegram 用户 id“liuyang”应是整数"),
        (29, "现场办公日“thursday”无效"),
        (31, "开始日期 2026-12-01 晚于结束日期 2026-11-30"),
        (33, "未知字段“phone”"),
    ]
    assert len(faults) == len(expected), faults
    for line, message in expected:
        assert any(f.line == line and message in f.message for f in faults), (line, message)
    assert [f.line for f in faults] == sorted(f.line for f in faults)
    lines = str(caught.value).splitlines()
    assert len(lines) == len(faults)
    assert all(line.startswith(f"{path}:") for line in lines)
    assert lines[0].startswith(f"{path}:17: 服务小组 g1 中有未知字段“memebers”")


def test_the_example_message_of_the_brief(tmp_path: Path) -> None:
    text = edit(
        "    members:\n      - {name: 王芳, telegram: 2003}\n      - {name: 刘洋, telegram: 2004}\n"
        "      - {name: 张伟, telegram: 2001}\n",
        "    members:\n      - {name: 王芳, telegram: 2003}\n",
    )
    path = write(tmp_path, text)
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    assert str(caught.value) == f"{path}:25: 服务小组 g2 只有 1 名成员，第五条要求每组至少 2 人"
