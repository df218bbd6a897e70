"""How one notification changes a stored event: the rules are backend-neutral and live
in ``opscope.store.sql.lifecycle``; re-exported here, where the embedded store's event
writer folds notifications in memory."""

from __future__ import annotations

from opscope.store.sql.lifecycle import EventState as EventState
from opscope.store.sql.lifecycle import apply as apply
from opscope.store.sql.lifecycle import new_state as new_state
