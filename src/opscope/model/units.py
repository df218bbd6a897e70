"""Numbers as people read them, in the unit a metric's name declares.

Prometheus names carry their base unit as a suffix (``_bytes``, ``_seconds``, ``_ratio``,
``_percent``, ``_celsius``; counters add ``_total``), so ``memory_usage_bytes`` at
1354780000 reads "1.26 GiB" and ``http_errors_ratio`` at 0.005234 reads "0.52%". A name
without a known unit gets a plain number with an SI prefix ("12.5k"). The value itself is
never changed: this is only how it is written in a sentence.
"""

from __future__ import annotations

import math
import re

_LABELS = re.compile(r"\{.*\}$")
_COUNTER_SUFFIXES = ("_total", "_sum", "_count", "_bucket", "_created")
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def unit_of(metric: str) -> str:
    """The base unit a metric name declares: bytes, seconds, ratio, percent, celsius or ''."""
    name = _LABELS.sub("", metric).lower()
    for suffix in _COUNTER_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    for unit in ("bytes", "seconds", "ratio", "percent", "celsius"):
        if name.endswith("_" + unit) or name == unit:
            return unit
    return ""


def _digits(x: float, sig: int) -> str:
    """``x`` to ``sig`` significant digits, without exponent and without trailing zeros."""
    if x == 0:
        return "0"
    places = max(sig - 1 - math.floor(math.log10(abs(x))), 0)
    text = f"{x:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def quantity(value: float, metric: str = "", sig: int = 3) -> str:
    """``value`` written in the unit ``metric``'s name declares, to ``sig`` digits."""
    if math.isnan(value):
        return "no value"
    if math.isinf(value):
        return "infinite" if value > 0 else "minus infinite"
    unit = unit_of(metric)
    size = abs(value)
    if unit == "bytes":
        step = 0
        while size >= 1024 and step < len(_BINARY) - 1:
            value, size, step = value / 1024, size / 1024, step + 1
        return f"{_digits(value, sig)} {_BINARY[step]}"
    if unit == "seconds":
        if size == 0:
            return "0 s"
        if size < 1e-3:
            return f"{_digits(value * 1e6, sig)} \u00b5s"
        if size < 1:
            return f"{_digits(value * 1e3, sig)} ms"
        if size < 120:
            return f"{_digits(value, sig)} s"
        if size < 7200:
            return f"{_digits(value / 60, sig)} min"
        return f"{_digits(value / 3600, sig)} h"
    if unit == "ratio":
        return f"{_digits(value * 100, sig)}%"
    if unit == "percent":
        return f"{_digits(value, sig)}%"
    if unit == "celsius":
        return f"{_digits(value, sig)} \u00b0C"
    for scale, prefix in _SI:
        if size >= scale:
            return f"{_digits(value / scale, sig)}{prefix}"
    if 0 < size < 1e-3:
        return f"{value:.{sig - 1}e}"
    return _digits(value, sig)


def quantities(first: float, second: float, metric: str = "") -> tuple[str, str]:
    """Two values of one metric, with just enough digits that unequal values read unequal.

    "0.954 against 0.94" must not become "95% against 94%" nor "1.2 GiB against 1.2 GiB";
    three significant digits are the start, six the most.
    """
    for sig in range(3, 7):
        a, b = quantity(first, metric, sig), quantity(second, metric, sig)
        if a != b or first == second:
            return a, b
    return a, b


_LONG_UNITS = {"s": "seconds", "min": "minutes", "h": "hours", "days": "days"}


def duration(seconds: float, *, words: bool = False) -> str:
    """A length of time in the unit that reads best: "45 s", "12 min", "3.5 h", "2.1 days"
    (with ``words``: "45 seconds", "12 minutes", "3.5 hours", "2.1 days")."""
    if seconds < 90:
        value, unit = f"{seconds:.0f}", "s"
    elif seconds < 5400:
        value, unit = f"{seconds / 60:.0f}", "min"
    elif seconds < 172_800:
        value, unit = f"{seconds / 3600:.1f}", "h"
    else:
        value, unit = f"{seconds / 86_400:.1f}", "days"
    return f"{value} {_LONG_UNITS[unit] if words else unit}"
