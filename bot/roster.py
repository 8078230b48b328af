"""Who the admins are, from the roster file (the rest of the roster arrives with routing)."""

from __future__ import annotations

from pathlib import Path

import yaml

__all__ = ["RosterError", "load_admins"]

_CHANNELS = ("telegram", "wechat", "web")


class RosterError(Exception):
    """The roster file cannot be used; the message names file and line."""


def load_admins(path: Path) -> frozenset[tuple[str, str]]:
    """The (channel, user id) pairs listed under ``admins:``.

    Raises:
        RosterError: The file is not valid YAML or ``admins`` is not a list of people.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else 0
        raise RosterError(f"{path}:{line}: YAML 格式错误：{error.problem}") from None
    except (OSError, yaml.YAMLError) as error:
        raise RosterError(f"{path}: {error}") from None
    admins = data.get("admins", []) if isinstance(data, dict) else None
    if not isinstance(admins, list):
        raise RosterError(f"{path}: admins 应是人员列表")
    found = set()
    for person in admins:
        if not isinstance(person, dict):
            raise RosterError(f"{path}: admins 中的每一项应是“name: …, telegram: …”的映射")
        for channel in _CHANNELS:
            if person.get(channel) is not None:
                found.add((channel, str(person[channel])))
    return frozenset(found)
