"""The lazy registry of metric detectors: names mapped to ``"module:Class"`` strings.

Built-ins register here exactly as a plugin would; nothing is imported until a detector
is asked for by name.
"""

from __future__ import annotations

import importlib
from typing import Any

from opscope.analyze.metrics.detector import Detector
from opscope.errors import ConfigError

_DETECTORS: dict[str, str] = {
    "seasonal": "opscope.analyze.metrics.seasonal:SeasonalBaseline",
    "forecast": "opscope.analyze.metrics.forecast:ForecastResidual",
    "changepoint": "opscope.analyze.metrics.changepoint:ChangePoint",
    "spectral": "opscope.analyze.metrics.spectral:SpectralResidual",
    "ensemble": "opscope.analyze.metrics.ensemble:Ensemble",
    "zscore": "opscope.analyze.metrics.zscore:WindowZScore",
    "novelty": "opscope.analyze.metrics.novelty:RangeNovelty",
    "stall": "opscope.analyze.metrics.stall:StallNovelty",
    "prototypes": "opscope.analyze.metrics.prototypes:ShapeNovelty",
}


def register(name: str, target: str) -> None:
    """Add or replace a detector; ``target`` is ``"module:Class"``."""
    if ":" not in target:
        raise ConfigError(f"detector target {target!r} must be 'module:Class'")
    _DETECTORS[name] = target


def names() -> list[str]:
    return sorted(_DETECTORS)


def detector_class(name: str) -> type[Detector]:
    target = _DETECTORS.get(name)
    if target is None:
        raise ConfigError(f"unknown detector {name!r}; known: {', '.join(names())}")
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Detector)):
        raise ConfigError(f"{target!r} is not a Detector class")
    return cls


def create(name: str, config: dict[str, Any] | None = None, capacity: int = 8) -> Detector:
    """Build detector ``name`` from a plain config mapping (validated by its config class)."""
    cls = detector_class(name)
    return cls(cls.config_class.model_validate(config or {}), capacity=capacity)
