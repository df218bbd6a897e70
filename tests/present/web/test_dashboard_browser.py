"""The overview and the incident page, rendered by a real headless Chromium against a
real server whose store holds a ranked incident, its topology and its series."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from browser import dump_dom, needs_chromium

from integration.server_process import ServerProcess, make_token
from opscope.model import Anomaly, Entity, MetricSample, Relation
from opscope.model.hypothesis import Evidence, Hypothesis
from opscope.model.incident import (
    ChangeKind,
    Incident,
    IncidentChange,
    IncidentMember,
    IncidentStatus,
    Signal,
    TimelineEntry,
    TimelineKind,
)
from opscope.model.metrics import series_id
from opscope.store.duckdb import DuckDBStore

pytestmark = needs_chromium

HOSTILE = "<i>db</i>"  # an entity id that would be markup if it were parsed
HOSTILE_TEXT = "&lt;i&gt;db&lt;/i&gt;"
INCIDENT = "inc-web-1"


def _seed(database: Path) -> None:
    """web -> api -> <i>db</i>, all on host-1; an open incident on the three services,
    ranked with the hostile database first; a latency series of it with its band and an
    anomaly. Times are recent so that retention at server start keeps them."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    opened = now - timedelta(minutes=10)
    store = DuckDBStore(database)
    try:
        store.upsert_topology(
            [Entity(id="web", labels={"user_facing": "true"}), Entity(id="api"),
             Entity(id=HOSTILE, kind="database"), Entity(id="host-1", kind="host")],
            [Relation(source="web", target="api"), Relation(source="api", target=HOSTILE),
             *[Relation.model_validate({"source": s, "target": "host-1", "kind": "runs_on"})
               for s in ("web", "api", HOSTILE)]])
        labels = {"service": HOSTILE, "host": "host-1"}
        sid = series_id("latency_seconds", labels)
        start = now - timedelta(minutes=40)
        samples, bands = [], []
        for minute in range(41):
            ts = start + timedelta(minutes=minute)
            value = 0.5 if ts >= opened else 0.1
            samples.append(MetricSample(name="latency_seconds", labels=labels, value=value, ts=ts))
            bands.append((sid, ts, 0.1, 0.05, 0.15))
        store.append_samples(samples)
        store.append_bands(bands)
        store.append_anomalies([Anomaly(kind="metric", entity=HOSTILE, subject=sid, ts=opened,
                                        score=9.0, value=0.5, expected=0.1, direction="up")])
        incident = Incident(id=INCIDENT, status=IncidentStatus.OPEN, severity="critical",
                            title=f"Latency on {HOSTILE} and 2 more", opened_at=opened,
                            updated_at=opened + timedelta(minutes=2),
                            entities=sorted(["web", "api", HOSTILE]), impact=["web"],
                            signal_count=3)
        members = [IncidentMember(incident_id=INCIDENT, joined_at=opened, reason="first signal",
                                  signal=Signal(id=f"am/{e}#1", name="HighLatency", entity=e,
                                                severity="critical", starts_at=opened,
                                                last_seen=opened))
                   for e in ("web", "api")]
        # The database's member is the metric anomaly itself.
        members.append(IncidentMember(
            incident_id=INCIDENT, joined_at=opened, reason="first signal",
            signal=Signal(id=f"anomaly/{HOSTILE}#1", kind="anomaly", name="metric:latency",
                          entity=HOSTILE, severity="critical", starts_at=opened,
                          last_seen=opened, labels={"detector": "", "subject": sid})))
        store.write_changes([IncidentChange(
            seq=1, kind=ChangeKind.OPENED, ts=opened, incident=incident, members=members,
            timeline=[TimelineEntry(incident_id=INCIDENT, ts=opened, kind=TimelineKind.OPENED,
                                    summary="opened: 3 signals")])])
        store.write_hypotheses(INCIDENT, opened + timedelta(minutes=2), [
            Hypothesis(entity=HOSTILE, signal=f"{HOSTILE}/latency_seconds", score=3.5, rank=1,
                       reason=f"Rank 1: {HOSTILE} latency moved first.",
                       evidence=[Evidence(kind="metric_shift", summary="latency rose to 0.5",
                                          subject=f"{HOSTILE}/latency_seconds", value=12.0)]),
            Hypothesis(entity="api", score=1.0, rank=2, reason="Rank 2: it calls the database."),
        ])
    finally:
        store.close()


def test_overview_and_incident_page_draw_graph_and_chart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = make_token(data, "read")
    writer = make_token(data, "read", "ingest")
    _seed(data / "opscope.duckdb")
    server = ServerProcess(data).start()
    try:
        overview = dump_dom(f"{server.url}/#token={token}", tmp_path / "p1")
        page = dump_dom(f"{server.url}/incidents/{INCIDENT}?node={quote(HOSTILE)}"
                         f"#token={token}", tmp_path / "p2")
        unknown = dump_dom(f"{server.url}/incidents/nope#token={token}", tmp_path / "p3")
        acting = dump_dom(f"{server.url}/incidents/{INCIDENT}#token={writer}", tmp_path / "p7")
        no_token = dump_dom(f"{server.url}/", tmp_path / "p4")
        report = dump_dom(f"{server.url}/report#token={token}", tmp_path / "p5")
        asked = dump_dom(f"{server.url}/incidents?q={quote('open incidents on web')}"
                         f"#token={token}", tmp_path / "p6")
    finally:
        server.stop()

    # The operations report of the last week: the incident, its top cause as text.
    assert re.search(r'id="r-opened"[^>]*>1<', report)
    causes = report[report.index('id="r-causes"'):report.index('id="r-impact"')]
    assert f"<td>{HOSTILE_TEXT}</td>" in causes and HOSTILE not in report
    assert re.search(r'id="r-judged"[^>]*>0 judged: 0 false alarms, 0 confirmed<', report)
    assert "No anomaly of this window was judged." in report

    # Business view: the user-facing service, affected by the incident, linked to it.
    assert re.search(r"<strong>web</strong>", overview)
    assert f'href="/incidents/{INCIDENT}"' in overview
    assert f"Latency on {HOSTILE_TEXT} and 2 more" in overview
    assert re.search(r'id="kpi-open"[^>]*>1<', overview)

    # The root-cause graph: the ranked causes, the affected service and the host neighbour.
    graph = page[page.index('id="graph"'):page.index('id="hypotheses"')]
    assert len(re.findall(r'<g class="node role-cause1', graph)) == 1
    assert len(re.findall(r'<g class="node role-cause2', graph)) == 1
    assert len(re.findall(r'<g class="node role-affected', graph)) == 1
    assert len(re.findall(r'<g class="node role-neighbour', graph)) == 1
    assert len(re.findall(r'<g class="edge kind-', graph)) == 5
    assert 'marker-end="url(#arrow)"' in graph
    # The hostile entity is drawn as SVG text, never as markup.
    assert f'<text x="78" y="17" text-anchor="middle" class="label">{HOSTILE_TEXT}</text>' \
        in graph
    assert HOSTILE not in page and HOSTILE not in overview

    # The evidence chart of the top cause: value line, expected band, anomaly mark.
    chart = page[page.index('id="top-chart"'):page.index('id="sel-chart"')]
    assert re.search(r'<path d="M[\d.]+,[\d.]+( L[\d.]+,[\d.]+){10,}" class="series-line"', chart)
    assert '<polygon points="' in chart and 'class="band"' in chart
    assert 'class="anomaly-mark"' in chart
    assert "latency_seconds" in chart
    # Its value axis is written in the unit the metric's name declares (seconds).
    assert re.search(r'text-anchor="end">\d+ ms</text>', chart)
    # Every member of this small incident is listed, so no share is announced.
    assert '<span id="members-share" class="muted"></span>' in page
    # The node named in the address is selected, and its own series found and charted.
    assert re.search(r'<g class="node role-cause1 is-affected selected"', graph)
    selected = page[page.index('id="sel-chart"'):page.index('id="members"')]
    assert re.search(r'class="series-line"', selected)
    assert '<option value="' in page and ">latency_seconds</option>" in page

    # A read-only token is offered no action, and told why.
    assert re.search(r'<button type="button" id="ack-button" hidden=', page)
    assert "This token may read only" in page
    assert "False alarm</button>" not in page
    # A token that may act can call the anomaly member (only it) a false alarm.
    members = acting[acting.index('id="members"'):acting.index('id="timeline"')]
    assert members.count("False alarm</button>") == 1
    row = members[members.index(f"<td>{HOSTILE_TEXT}</td>") - 200:members.index("False alarm")]
    assert "metric:latency" in row

    assert "Rank 1: " + HOSTILE_TEXT + " latency moved first." in page
    # The summary, from the record (as text), and the similar incidents: none besides it.
    summary = page[page.index('id="summary"'):page.index('id="graph"')]
    assert f"A critical incident on {HOSTILE_TEXT}, api and web, affecting the user-facing " \
        "web." in summary
    assert f"The most likely cause is {HOSTILE_TEXT} ({HOSTILE_TEXT}/latency_seconds)" in summary
    assert "No similar incident among the 1 indexed." in page
    # No language model is configured, so no retelling is offered.
    assert re.search(r'<p id="narrative" class="summary narrative" hidden=""', page)

    # A question in the address is asked: its reading is shown beside its answer.
    assert "I read this as: incidents, status open, entity web, any time." in asked
    results = asked[asked.index('id="ask-results"'):]
    assert f'<a href="/incidents/{INCIDENT}">Latency on {HOSTILE_TEXT} and 2 more</a>' in results
    assert "No incident nope is stored here" in unknown
    assert '<section id="login">' in no_token and "no token yet" in no_token
