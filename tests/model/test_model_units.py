import math

import pytest

from opscope.model.units import duration, quantities, quantity, unit_of


@pytest.mark.parametrize(("metric", "unit"), [
    ("memory_usage_bytes", "bytes"),
    ("node_network_receive_bytes_total", "bytes"),
    ("http_request_duration_seconds{quantile=0.95}", "seconds"),
    ("http_request_duration_seconds_sum", "seconds"),
    ("cache_hit_ratio", "ratio"),
    ("disk_used_percent", "percent"),
    ("node_hwmon_temp_celsius", "celsius"),
    ("http_requests_per_second", ""),
    ("bytes_in_flight_count", ""),
    ("", ""),
])
def test_the_unit_comes_from_the_name_suffix(metric: str, unit: str) -> None:
    assert unit_of(metric) == unit


@pytest.mark.parametrize(("value", "metric", "text"), [
    (1_354_780_000, "memory_usage_bytes", "1.26 GiB"),
    (512, "memory_usage_bytes", "512 B"),
    (1536, "memory_usage_bytes", "1.5 KiB"),
    (0.000482, "cache_operation_duration_seconds", "482 \u00b5s"),
    (0.9553, "http_request_duration_seconds", "955 ms"),
    (42.0, "job_duration_seconds", "42 s"),
    (600.0, "job_duration_seconds", "10 min"),
    (10800.0, "job_duration_seconds", "3 h"),
    (0.005234, "http_errors_ratio", "0.523%"),
    (0.954, "cache_hit_ratio", "95.4%"),
    (87.25, "disk_used_percent", "87.2%"),
    (61.0, "temp_celsius", "61 \u00b0C"),
    (57.15, "http_requests_per_second", "57.1"),
    (12_500, "queue_depth", "12.5k"),
    (7.56211e9, "things", "7.56G"),
    (0.0, "things", "0"),
    (-0.25, "delta", "-0.25"),
    (0.00001234, "things", "1.23e-05"),
    (math.nan, "things", "no value"),
    (math.inf, "things", "infinite"),
])
def test_values_read_in_their_unit(value: float, metric: str, text: str) -> None:
    assert quantity(value, metric) == text


def test_close_values_get_enough_digits_to_differ() -> None:
    assert quantities(0.954, 0.94, "cache_hit_ratio") == ("95.4%", "94%")
    assert quantities(1.2001e9, 1.2002e9, "m_bytes") == ("1.1177 GiB", "1.1178 GiB")
    assert quantities(5.0, 5.0, "x") == ("5", "5")


@pytest.mark.parametrize(("seconds", "short", "long"), [
    (45, "45 s", "45 seconds"),
    (720, "12 min", "12 minutes"),
    (12_600, "3.5 h", "3.5 hours"),
    (181_440, "2.1 days", "2.1 days"),
])
def test_durations_read_in_the_unit_that_fits(seconds: float, short: str, long: str) -> None:
    assert duration(seconds) == short
    assert duration(seconds, words=True) == long
