"""The flow between collection, storage and analysis: stages, the bus, ingestion."""

from opscope.pipeline.bus import Bus, InProcessBus, Subscription
from opscope.pipeline.ingest import Ingestor, IngestReceipt
from opscope.pipeline.stage import Stage, run_stages

__all__ = ["Bus", "InProcessBus", "IngestReceipt", "Ingestor", "Stage", "Subscription",
           "run_stages"]
