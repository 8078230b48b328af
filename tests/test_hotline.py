"""The hotline desk (policy article 6): requests a duty group member takes by phone or at the
on-site desk, driven as the console drives the desk, and timed by the scheduler, on SQLite and
PostgreSQL.

Such a request has no chat: whatever the desk says to its asker must never be queued.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from sqlalchemy import select

from bot.app import Bot
from bot.clock import ManualClock
from bot.desk.commands import Ask, Command, Member, OpenForCaller, Outcome, Reply, Resolve
from bot.desk.service import execute
from bot.desk.turn import Moment
from bot.domain.events import EventKind
from bot.domain.lifecycle import Status
from bot.messages import Channel, Intake, Language
from bot.reports.files import read_report
from bot.reports.html import report_html
from bot.reports.period import Quarter
from bot.reports.tables import channel_rows, report_csv
from bot.texts.desk import DESK_ZH
from storage import outbox
from storage.models import OutboxMessage, Person, RequestEvent
from tests.support.desk import GROUP_CHAT, ZHANG, open_one, shanghai, the_request

SUPERVISORS_CHAT = "-1009100000001"
"""The district's supervisors' chat in the desk tests' roster."""
CALL = OpenForCaller(
    Intake.HOTLINE,
    caller="赵先生",
    phone="13812345678",
    space_id="baodi-eco",
    category_id="policy",
    text="想了解小微企业房租补贴怎么申请",
)
"""A call about the first maker space, whose duty group is 张伟's (服务一组)."""


def member(bot: Bot, user_id: str) -> Member:
    roles = bot.services.roster.current.roles_of(Channel.TELEGRAM.value, user_id)
    name = roles.person.name if roles.person else ""
    return Member(f"telegram:{user_id}", name, roles, Language.ZH)


async def run(bot: Bot, who: Member, command: Command) -> Outcome:
    """Have the desk carry out ``command`` and queue what it causes, as the console does."""
    async with bot.database.transaction() as session:
        turn = Moment(
            session,
            bot.clock.now(),
            bot.services.roster.current,
            bot.services.calendar.current,
        )
        outcome = await execute(turn, who, command)
        for message in outcome.messages:
            outbox.enqueue_message(session, message, turn.now)
    return outcome


async def outbox_chats(bot: Bot) -> list[str]:
    async with bot.database.sessions() as session:
        return list(await session.scalars(select(OutboxMessage.chat_id).order_by(OutboxMessage.id)))


async def log_of(bot: Bot, request_id: int) -> list[tuple[str, str, dict[str, object] | None]]:
    async with bot.database.sessions() as session:
        events = await session.scalars(
            select(RequestEvent)
            .where(RequestEvent.request_id == request_id)
            .order_by(RequestEvent.id)
        )
        return [(e.kind, e.actor, e.data) for e in events]


async def test_a_call_gets_a_number_and_a_due_date_and_only_the_group_hears_of_it(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    opened = await run(running, member(running, ZHANG.user_id), CALL)
    assert opened.done
    assert opened.request is not None
    request = await the_request(running, opened.request.number)
    # Monday 23 November + 10 working days: Monday 7 December.
    assert request.due_date == date(2026, 12, 7)
    assert (request.channel, request.chat_id, request.phone, request.group_id) == (
        "hotline",
        "",
        "13812345678",
        "g1",
    )
    async with running.database.sessions() as session:
        caller = await session.get(Person, request.person_id)
        assert caller is not None
        assert caller.display_name == "赵先生"
    (note,) = opened.notes
    assert note.text.startswith(f"☎ 工单已登记：{request.number}\n来电人：赵先生")
    assert "答复期限：2026-12-07" in note.text
    # The card goes to the group's chat and nowhere else: there is no chat to confirm in.
    assert await outbox_chats(running) == [GROUP_CHAT]
    (card,) = opened.messages
    assert "创业者：赵先生，电话 13812345678（热线来电，请电话答复）" in card.text
    assert await log_of(running, request.id) == [
        (
            EventKind.OPENED,
            "telegram:2001",
            {"group": "g1", "space": "baodi-eco", "due_date": "2026-12-07", "intake": "hotline"},
        )
    ]


async def test_replies_and_the_result_given_by_phone_are_recorded_and_never_queued(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    zhang = member(running, ZHANG.user_id)
    visit = OpenForCaller(Intake.VISIT, "钱女士", "022-12345678", "baodi-eco", "policy", "问政策")
    number = (await run(running, zhang, visit)).request.number  # type: ignore[union-attr]
    asked = await run(running, zhang, Ask(number, "请带营业执照复印件来"))
    replied = await run(running, zhang, Reply(number, "已收到材料，正在办理"))
    resolved = await run(running, zhang, Resolve(number, "补贴已申请，下月到账"))
    for outcome in (asked, replied, resolved):
        assert outcome.done
        assert outcome.notes[-1].text == DESK_ZH.tell_caller
        # Only the card in the group's chat is brought up to date.
        assert {m.chat_id for m in outcome.messages} == {GROUP_CHAT}
    assert set(await outbox_chats(running)) == {GROUP_CHAT}
    request = await the_request(running, number)
    assert (request.status, request.result) == (Status.RESOLVED, "补贴已申请，下月到账")
    told = [data for kind, _, data in await log_of(running, request.id) if kind != "opened"]
    assert told == [{"told": "visit"}] * 3


async def test_only_a_member_of_the_space_s_duty_group_records_a_call_for_it(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    # 王芳 is in 服务二组, not on duty for the first maker space; the admin is in no group.
    wang = await run(running, member(running, "2003"), CALL)
    assert not wang.done
    assert [n.text for n in wang.notes] == [
        DESK_ZH.not_on_duty_for.format(space="节能环保工业园区众创空间", group="服务一组")
    ]
    admin = await run(running, member(running, "9001"), CALL)
    assert not admin.done
    assert [n.text for n in admin.notes] == [DESK_ZH.members_only]
    assert await outbox_chats(running) == []
    # For her own group's space she may.
    theirs = await run(
        running,
        member(running, "2003"),
        OpenForCaller(Intake.HOTLINE, "孙先生", "13900000000", "baodi-pku", "policy", "问政策"),
    )
    assert theirs.done
    assert theirs.request is not None
    assert theirs.request.group_id == "g2"


async def test_the_scheduler_reminds_escalates_and_closes_a_call_without_telling_the_caller(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    zhang = member(running, ZHANG.user_id)
    number = (await run(running, zhang, CALL)).request.number  # type: ignore[union-attr]
    clock.set(shanghai("2026-12-04T09:00"))  # Friday, the working day before the due date
    assert (await running.scheduler.tick()).reminders == 1
    clock.set(shanghai("2026-12-07T09:00"))  # Monday, the due date
    assert (await running.scheduler.tick()).reminders == 1
    clock.set(shanghai("2026-12-08T09:00"))  # past the deadline: the supervisors hear of it
    assert (await running.scheduler.tick()).escalations == 1
    await run(running, zhang, Resolve(number, "已电话答复"))
    clock.set(shanghai("2026-12-16T09:00"))  # six working days after the result
    assert (await running.scheduler.tick()).closed == 1
    assert (await the_request(running, number)).status == Status.CLOSED
    chats = await outbox_chats(running)
    assert set(chats) == {GROUP_CHAT, SUPERVISORS_CHAT}
    assert chats.count(SUPERVISORS_CHAT) == 1


async def test_the_quarterly_report_counts_requests_by_intake_channel(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    await open_one(running)  # on the web chat, for the first maker space (服务一组)
    zhang, wang = member(running, ZHANG.user_id), member(running, "2003")
    await run(running, zhang, CALL)
    await run(running, zhang, CALL)
    pku = OpenForCaller(Intake.VISIT, "孙先生", "13900000000", "baodi-pku", "policy", "问政策")
    await run(running, wang, pku)
    roster = running.services.roster.current
    clock.advance(timedelta(minutes=1))  # the report counts what happened before its moment
    async with running.database.sessions() as session:
        report = await read_report(
            session, Quarter.of(clock.now()), clock.now(), running.services.calendar.current, roster
        )
    assert {k: len(v) for k, v in report.total.channels.items()} == {
        "web": 1,
        "hotline": 2,
        "visit": 1,
    }
    assert {k: len(v) for k, v in report.groups["g2"].channels.items()} == {"visit": 1}
    assert channel_rows(report.total) == [["网页", "1"], ["热线电话", "2"], ["现场窗口", "1"]]
    html = report_html(report, roster)
    assert "<h2>按受理渠道（收到）</h2>" in html
    assert "热线电话" in html
    table = list(csv.reader(io.StringIO(report_csv(report, roster).decode("utf-8-sig"))))
    header, total = table[0], table[1]
    counted = dict(zip(header, total, strict=True))
    assert (counted["层级"], counted["收到"]) == ("合计", "4")
    assert [
        counted[f"收到·{name}"] for name in ("网页", "Telegram", "微信", "热线电话", "现场窗口")
    ] == [
        "1",
        "0",
        "0",
        "2",
        "1",
    ]
