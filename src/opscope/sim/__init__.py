"""A simulated online shop with fault injection and ground truth, for the demo and tests.

``Simulation.tick()`` advances event time by one step and returns a ``Batch`` of alerts,
logs, metrics, changes and tickets; ``run_fast`` and ``run_realtime`` drive it; the
``HttpFeeder`` (in ``opscope.sim.feed``) posts batches to a server.
"""

from opscope.sim.config import SimulationConfig
from opscope.sim.faults import Fault, FaultInjector, FaultKind, FaultScheduleConfig, GroundTruth
from opscope.sim.runner import metric_history, run_fast, run_realtime
from opscope.sim.simulation import Batch, Simulation
from opscope.sim.topology import Edge, EntitySpec, Topology, default_shop

__all__ = [
    "Batch", "Edge", "EntitySpec", "Fault", "FaultInjector", "FaultKind", "FaultScheduleConfig",
    "GroundTruth", "Simulation", "SimulationConfig", "Topology", "default_shop",
    "metric_history", "run_fast", "run_realtime",
]
