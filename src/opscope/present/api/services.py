"""What the API needs from the rest of the system, built by ``opscope.app``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opscope.config import Settings
from opscope.pipeline import Bus, Ingestor
from opscope.present.api.auth import Authenticator
from opscope.present.api.telemetry import Telemetry
from opscope.store.ports import Store


@dataclass
class Services:
    settings: Settings
    store: Store
    bus: Bus
    ingestor: Ingestor
    auth: Authenticator
    telemetry: Telemetry
    extras: dict[str, Any] = field(default_factory=dict)
