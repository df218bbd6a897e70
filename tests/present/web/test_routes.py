"""The dashboard's pages and static files, served in-process: which page is where, that
the pages carry no data, and that what they load exists."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opscope.app import build_services, create_app
from opscope.config import load_settings
from opscope.model.metrics import ENTITY_LABELS
from opscope.store.duckdb import DuckDBStore

PAGES = [("/", "overview.js", "Overview"), ("/events", "events.js", "Live events"),
         ("/incidents", "incidents.js", "Incidents"),
         ("/incidents/inc-1", "incident.js", "Incidents"), ("/report", "report.js", "Report")]


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = load_settings(environ={}, data_dir=tmp_path)
    services = build_services(settings, store=DuckDBStore(None))
    with TestClient(create_app(settings, services)) as test_client:
        yield test_client


@pytest.mark.parametrize(("path", "script", "current"), PAGES)
def test_each_page_loads_its_script_and_marks_its_nav_link(client: TestClient, path: str,
                                                           script: str, current: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert f'<script src="/static/{script}"></script>' in html
    assert re.search(rf'class="here">{current}</a>', html)
    for href in ('href="/"', 'href="/incidents"', 'href="/events"'):
        assert href in html
    # Every page asks for a token rather than carrying one.
    assert 'id="login"' in html and "ops_" not in html.replace('placeholder="ops_…"', "")


def test_every_script_and_style_a_page_loads_is_served(client: TestClient) -> None:
    for path, _, _ in PAGES:
        for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', client.get(path).text):
            response = client.get(src)
            assert response.status_code == 200, src
            assert response.text.strip()


def test_incident_page_gets_only_the_id_escaped_and_the_entity_labels(
        client: TestClient) -> None:
    html = client.get('/incidents/"><b onclick=x>').text
    assert "<b onclick=x>" not in html
    assert 'data-incident-id="&#34;&gt;&lt;b onclick=x&gt;"' in html
    found = re.search(r'data-entity-labels="([^"]*)"', html)
    assert found is not None
    assert json.loads(found.group(1).replace("&#34;", '"')) == list(ENTITY_LABELS)


def test_scripts_never_parse_data_as_markup(client: TestClient) -> None:
    for name in ("common.js", "overview.js", "incident.js", "graph.js", "chart.js",
                 "events.js", "incidents.js"):
        source = client.get(f"/static/{name}").text
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", source), \
            name
