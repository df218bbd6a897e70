from pathlib import Path
from typing import Any

import pytest

from opscope.collect.topology import load_topology_yaml, parse_topology
from opscope.errors import NotFound, ValidationFailed
from opscope.model import Entity, Relation, RelationKind

FIXTURE = Path(__file__).parent.parent / "fixtures" / "collect" / "topology.yaml"


def _edges(relations: list[Relation]) -> set[tuple[str, str, str]]:
    return {(r.source, r.target, r.kind.value) for r in relations}


def test_compact_yaml_file() -> None:
    entities, relations = load_topology_yaml(FIXTURE)
    kinds = {e.id: e.kind for e in entities}
    assert kinds == {"frontend": "service", "checkout": "service", "cart": "service",
                     "payment": "service", "orders-db": "database", "cart-cache": "cache",
                     "host-1": "host", "host-2": "host"}
    checkout = next(e for e in entities if e.id == "checkout")
    assert checkout.name == "Checkout API" and checkout.labels == {"team": "payments",
                                                                   "tier": "1"}
    assert _edges(relations) == {
        ("frontend", "checkout", "calls"), ("frontend", "cart", "calls"),
        ("frontend", "host-1", "runs_on"), ("checkout", "payment", "calls"),
        ("checkout", "cart", "calls"), ("checkout", "host-1", "runs_on"),
        ("checkout", "orders-db", "depends_on"), ("cart", "payment", "calls"),
        ("cart", "host-2", "runs_on"), ("cart", "cart-cache", "depends_on"),
        ("payment", "host-2", "runs_on"), ("orders-db", "host-2", "runs_on"),
    }


def test_full_form() -> None:
    doc = {"entities": [{"id": "a"}, {"id": "b", "kind": "database"}],
           "relations": [{"source": "a", "target": "b", "kind": "depends_on"},
                         {"source": "a", "target": "b", "kind": "depends_on"}]}
    entities, relations, problems = parse_topology(doc)
    assert problems == []
    assert entities == [Entity(id="a"), Entity(id="b", kind="database")]
    assert relations == [Relation(source="a", target="b", kind=RelationKind.DEPENDS_ON)]


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ([], (None, "$")),
        ({"entities": [{"id": "a"}, {"id": "a"}]}, (1, "id")),
        ({"entities": [{"id": ""}]}, (0, "id")),
        ({"entities": [{"id": "a", "colour": "red"}]}, (0, "colour")),
        ({"entities": [{"id": "a"}], "relations": [{"source": "a", "target": "zz"}]},
         (0, "relations")),
        ({"entities": [{"id": "a"}], "relations": [{"source": "a", "target": "a"}]},
         (0, "")),
        ({"relations": [{"source": "a", "target": "b", "kind": "owns"}]}, (0, "kind")),
        ({"services": {"a": {"calls": [["x"]]}}}, (None, "services.a.calls")),
        ({"services": {"a": {"calls": {"x": 1}}}}, (None, "services.a.calls")),
        ({"services": {"a": {"owner": "me"}}}, (None, "services.a")),
        ({"services": {"a": "service"}}, (None, "services.a")),
        ({"services": ["a"]}, (None, "services")),
        ({"hosts": {}}, (None, "$")),
    ],
)
def test_problems(doc: Any, where: tuple[int | None, str]) -> None:
    _, _, problems = parse_topology(doc)
    assert problems and (problems[0].index, problems[0].field) == where


def test_compact_entities_mapping_and_empty_spec() -> None:
    entities, relations, problems = parse_topology({"entities": {"a": None, "b": {"calls": "a"}}})
    assert problems == [] and [e.id for e in entities] == ["a", "b"]
    assert _edges(relations) == {("b", "a", "calls")}


def test_yaml_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("services:\n  a: [unclosed\n")
    with pytest.raises(ValidationFailed, match="line"):
        load_topology_yaml(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("services:\n  a: {calls: [a]}\n")
    with pytest.raises(ValidationFailed) as info:
        load_topology_yaml(wrong)
    assert info.value.problems[0]["field"] == "services.a.calls"
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"services: {caf\xe9: {}}\n")
    with pytest.raises(ValidationFailed, match="UTF-8"):
        load_topology_yaml(latin)
    with pytest.raises(NotFound):
        load_topology_yaml(tmp_path / "missing.yaml")


def test_a_consumer_is_said_with_consumes() -> None:
    doc = {"services": {"email": {"consumes": ["orders-queue"], "runs_on": "host-1"}}}
    _, relations, problems = parse_topology(doc)
    assert problems == []
    assert [(r.source, r.target, r.kind.value) for r in relations
            if r.target == "orders-queue"] == [("email", "orders-queue", "consumes")]
