"""Who may do what, and see which report: one answer for the chats and the console alike.

Roles come from the roster only (:meth:`bot.domain.roster.model.Roster.roles_for`), for an account
the channel vouched for. A member acts on the requests of their own duty groups; an
entrepreneur on their own requests; a supervisor reads their districts' report, an admin the
whole city's and any district's.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.roster.model import Roles, Roster
from storage.models import Person, Request

__all__ = ["ReportScope", "holds", "may_act", "owns", "report_scope"]


def may_act(roles: Roles) -> bool:
    """Whether the account may make member moves at all (it is in some duty group)."""
    return bool(roles.member_of)


def holds(roles: Roles, request: Request) -> bool:
    """Whether the request belongs to one of the account's duty groups."""
    return request.group_id in roles.member_of


def owns(person: Person, request: Request) -> bool:
    """Whether ``request`` is ``person``'s own."""
    return request.person_id == person.id


@dataclass(frozen=True, slots=True)
class ReportScope:
    """The quarterly reports an account may have.

    Attributes:
        city: The whole city's (admins).
        districts: The districts whose report it may have, sorted by id.
    """

    city: bool
    districts: tuple[str, ...]

    def allows(self, district: str | None) -> bool:
        """Whether the report of ``district`` (``None``: the whole city) is theirs to have."""
        return self.city if district is None else district in self.districts

    @property
    def default(self) -> tuple[str | None, ...]:
        """What ``/report`` sends without a district: the city's, or each district's."""
        return (None,) if self.city else self.districts


def report_scope(roles: Roles, roster: Roster) -> ReportScope | None:
    """The reports ``roles`` may have; ``None``: none at all."""
    if roles.is_admin:
        return ReportScope(True, tuple(d.id for d in roster.districts))
    if roles.supervisor_of:
        return ReportScope(False, tuple(sorted(roles.supervisor_of)))
    return None
