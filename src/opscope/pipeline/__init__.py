"""The flow between collection, storage and analysis: stages, the bus, ingestion."""

from typing import TYPE_CHECKING, Any

from opscope.pipeline.bus import Bus, InProcessBus, Subscription
from opscope.pipeline.codec import CodecError, decode_batch, encode_batch
from opscope.pipeline.ingest import Ingestor, IngestReceipt
from opscope.pipeline.stage import Stage, run_stages

if TYPE_CHECKING:
    from opscope.pipeline.nats_bus import NatsBus

__all__ = ["Bus", "CodecError", "InProcessBus", "IngestReceipt", "Ingestor", "NatsBus",
           "Stage", "Subscription", "decode_batch", "encode_batch", "run_stages"]


def __getattr__(name: str) -> Any:
    # NatsBus needs nats-py, an optional extra: it is imported only when asked for.
    if name == "NatsBus":
        from opscope.pipeline.nats_bus import NatsBus

        return NatsBus
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
