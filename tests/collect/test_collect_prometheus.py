import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opscope.collect.prometheus import parse_exposition
from opscope.errors import PayloadTooLarge
from opscope.model import MetricSample

FIXTURE = Path(__file__).parent.parent / "fixtures" / "collect" / "prometheus-2.42-self-metrics.txt"
NOW = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def samples() -> list[MetricSample]:
    result = parse_exposition(FIXTURE.read_text(), NOW)
    assert result.problems == []
    return result.items


def _one(samples: list[MetricSample], name: str, **labels: str) -> MetricSample:
    found = [s for s in samples if s.name == name and s.labels == labels]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def _family_types(text: str) -> dict[str, str]:
    return {line.split()[2]: line.split()[3] for line in text.splitlines()
            if line.startswith("# TYPE ")}


def test_sample_counts_per_type(samples: list[MetricSample]) -> None:
    types = _family_types(FIXTURE.read_text())

    def family(name: str) -> str:
        for suffix in ("_bucket", "_sum", "_count", ""):
            base = name[: len(name) - len(suffix)] if suffix else name
            if name.endswith(suffix) and base in types:
                return types[base]
        return "untyped"

    counts = Counter(family(s.name) for s in samples)
    assert counts == {"counter": 79, "gauge": 67, "histogram": 74, "summary": 53}
    assert len(samples) == 273
    assert sum(1 for s in samples if s.name.endswith("_bucket")) == 64
    assert sum(1 for s in samples if "quantile" in s.labels) == 31
    assert all(s.ts == NOW for s in samples)


def test_known_values(samples: list[MetricSample]) -> None:
    assert _one(samples, "go_goroutines").value == 27
    assert _one(samples, "go_gc_duration_seconds", quantile="0.5").value == 9.7927e-05
    assert _one(samples, "go_gc_duration_seconds_count").value == 3
    assert _one(samples, "go_memstats_alloc_bytes").value == 8.119432e06
    assert _one(samples, "process_start_time_seconds").value == 1.79572324748e09
    assert _one(samples, "prometheus_tsdb_clean_start").value == -1
    build = _one(samples, "prometheus_build_info", branch="debian/sid", goarch="amd64",
                 goos="linux", goversion="go1.19.8", revision="2.42.0+ds-5+deb12u1",
                 version="2.42.0+ds")
    assert build.value == 1
    assert build.entity == ""


def test_histogram_and_summary_shapes(samples: list[MetricSample]) -> None:
    name = "prometheus_tsdb_compaction_chunk_range_seconds"
    buckets = [s for s in samples if s.name == f"{name}_bucket"]
    assert [s.labels["le"] for s in buckets] == [
        "100", "400", "1600", "6400", "25600", "102400", "409600", "1.6384e+06",
        "6.5536e+06", "2.62144e+07", "+Inf"]
    assert _one(samples, f"{name}_sum").value == 0
    assert _one(samples, f"{name}_count").value == 0
    nan = _one(samples, "prometheus_engine_query_duration_seconds",
               slice="inner_eval", quantile="0.5")
    assert math.isnan(nan.value)
    assert sum(1 for s in samples if math.isnan(s.value)) == 26


def test_escapes_timestamps_and_special_values() -> None:
    text = (
        '# TYPE http_requests_total counter\n'
        'http_requests_total{method="post",path="C:\\\\dir\\"x\\"\\nend"} 1027 1395066363000\n'
        'http_requests_total{method="get",path="/{id}, ok",} 3\n'
        'temp\t+Inf\n'
        'neg_temp -Inf -1000\n'
        '  # a comment with # TYPE inside\n'
        '# HELP unused text\n'
        'up{job="a"} NaN\n'
        '# EOF\n'
    )
    result = parse_exposition(text, NOW)
    assert result.problems == []
    post, get, temp, neg, up = result.items
    assert post.labels == {"method": "post", "path": 'C:\\dir"x"\nend'}
    assert post.ts == datetime(2014, 3, 17, 14, 26, 3, tzinfo=UTC)
    assert get.labels["path"] == "/{id}, ok" and get.ts == NOW
    assert temp.value == math.inf
    assert neg.value == -math.inf
    assert neg.ts == datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert math.isnan(up.value) and up.entity == "a"


@pytest.mark.parametrize(
    "line",
    [
        "1bad_name 3",
        "name",
        "name 1 2 3",
        "name abc",
        "name 1_000",
        "name 1 12.5",
        'name{a="1" b="2"} 1',
        'name{a="1",a="2"} 1',
        'name{a=1} 1',
        'name{a="unterminated} 1',
        "# TYPE name bogus",
        "name 1 99999999999999999999",
    ],
)
def test_bad_lines_are_problems_with_line_numbers(line: str) -> None:
    result = parse_exposition(f"good 1\n{line}\ngood_too 2\n", NOW)
    assert [s.name for s in result.items] == ["good", "good_too"]
    assert [(p.index, p.field) for p in result.problems] == [(2, "line")]


def test_histogram_bucket_needs_le_and_summary_needs_quantile() -> None:
    text = ("# TYPE h histogram\nh_bucket 1\nh_bucket{le=\"x\"} 1\nh_bucket{le=\"1\"} 1\n"
            "# TYPE s summary\ns 1\ns{quantile=\"0.5\"} 1\ns_sum 1\n")
    result = parse_exposition(text, NOW)
    assert [p.index for p in result.problems] == [2, 3, 6]
    assert len(result.items) == 3


def test_second_type_line_is_a_problem() -> None:
    result = parse_exposition("# TYPE a gauge\n# TYPE a counter\na 1\n", NOW)
    assert [p.index for p in result.problems] == [2]
    assert len(result.items) == 1


def test_extra_labels_win_and_clashing_labels_are_exported() -> None:
    text = 'up{job="inner",x="1"} 1\nother 2\n'
    result = parse_exposition(text, NOW, {"job": "prom", "instance": "vm:9090"})
    up, other = result.items
    assert up.labels == {"job": "prom", "exported_job": "inner", "x": "1", "instance": "vm:9090"}
    assert other.labels == {"job": "prom", "instance": "vm:9090"}


def test_invalid_extra_label_name() -> None:
    result = parse_exposition("a 1\n", NOW, {"bad-name": "x"})
    assert result.items == [] and result.problems[0].index is None


def test_naive_default_ts_is_utc_and_crlf_is_accepted() -> None:
    result = parse_exposition("a 1\r\nb 2\r\n", datetime(2026, 1, 1))
    assert [s.ts for s in result.items] == [datetime(2026, 1, 1, tzinfo=UTC)] * 2


def test_sample_limit() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_exposition("a 1\nb 2\nc 3\n", NOW, max_samples=2)


def test_too_many_labels() -> None:
    labels = ",".join(f'l{i}="v"' for i in range(65))
    result = parse_exposition(f"a{{{labels}}} 1\n", NOW)
    assert result.items == [] and "labels" in result.problems[0].message


NAMES = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,20}", fullmatch=True)
LABEL_NAMES = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True)
LABEL_VALUES = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@settings(max_examples=150, deadline=None)
@given(NAMES, st.dictionaries(LABEL_NAMES, LABEL_VALUES, max_size=5),
       st.floats(allow_nan=True, allow_infinity=True),
       st.none() | st.integers(min_value=-(10**12), max_value=10**13))
def test_written_samples_read_back_exactly(name: str, labels: dict[str, str], value: float,
                                           ms: int | None) -> None:
    label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    line = f"{name}{{{label_text}}} {value!r}" if labels else f"{name} {value!r}"
    if ms is not None:
        line += f" {ms}"
    result = parse_exposition(f"# TYPE {name} untyped\n{line}\n", NOW)
    assert result.problems == []
    [sample] = result.items
    assert (sample.name, sample.labels) == (name, labels)
    assert sample.value == value or (math.isnan(value) and math.isnan(sample.value))
    expected_ts = NOW if ms is None else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
        milliseconds=ms)
    assert sample.ts == expected_ts
