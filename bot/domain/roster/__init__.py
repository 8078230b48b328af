"""The roster: who is who (:mod:`.model`), read from the file admins edit (:mod:`.load`).

The file's shape is in :mod:`.shape`, and what an admin is told about its faults in
:mod:`.faults`.
"""

__all__: list[str] = []
