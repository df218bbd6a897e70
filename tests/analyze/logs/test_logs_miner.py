import json

from opscope.analyze.logs.miner import MinerConfig, TemplateMiner, template_id_of

HDFS_LIKE = [
    "Receiving block blk_123 src: /10.0.0.1:50010 dest: /10.0.0.2:50010",
    "PacketResponder 1 for block blk_-77 terminating",
    "Receiving block blk_456 src: /10.0.0.3:41234 dest: /10.0.0.4:50010",
    "PacketResponder 2 for block blk_99 terminating",
    "Verification succeeded for blk_5",
]


def test_lines_differing_only_in_values_share_a_template() -> None:
    miner = TemplateMiner()
    first, _, second, _, _ = miner.add_batch(HDFS_LIKE)
    assert first.template_id == second.template_id
    assert second.template == "Receiving block <*> src: <*>:<*> dest: <*>:<*>"
    assert second.params == ["blk_456", "/10.0.0.3", "41234", "/10.0.0.4", "50010"]
    assert first.is_new and not second.is_new
    assert len(miner.templates()) == 3


def test_varying_words_become_values_after_enough_distinct_ones() -> None:
    miner = TemplateMiner()
    users = ["alice", "bob", "carol", "dave"]
    matches = [miner.add(f"Invalid user {u} from 10.0.0.{i}") for i, u in enumerate(users)]
    final = {miner.resolve(m.template_id) for m in matches}
    assert len(final) == 1
    assert miner.template(final.pop()) == "Invalid user <*> from <*>"
    assert miner.stats()["merges"] >= 1
    merged = [old for m in matches for old in m.merged]
    assert merged and all(miner.merges()[old] == miner.resolve(old) for old in merged)
    # Merged ids still resolve to the surviving template.
    for m in matches:
        assert miner.template(m.template_id) == "Invalid user <*> from <*>"


def test_two_alternating_words_stay_distinct_events() -> None:
    miner = TemplateMiner()
    for i in range(5):
        miner.add(f"Block rdd_{i} stored as bytes in memory (size {i} KB)")
        miner.add(f"Block rdd_{i} stored as values in memory (size {i} KB)")
    texts = sorted(t.template for t in miner.templates())
    assert texts == ["Block <*> stored as bytes in memory (size <*> KB)",
                     "Block <*> stored as values in memory (size <*> KB)"]


def test_first_word_names_the_event() -> None:
    miner = TemplateMiner()
    for key in ("tickTime", "maxSessionTimeout", "minSessionTimeout", "initLimit"):
        miner.add(f"{key} set to 2000")
    assert len(miner.templates()) == 4


def test_match_does_not_learn() -> None:
    miner = TemplateMiner()
    miner.add("Verification succeeded for blk_1")
    found = miner.match("Verification succeeded for blk_2")
    assert found is not None and found.template == "Verification succeeded for <*>"
    assert miner.match("something else entirely") is None
    assert miner.stats()["lines"] == 1


def test_state_round_trip_keeps_ids_and_behaviour() -> None:
    miner = TemplateMiner()
    miner.add_batch(HDFS_LIKE)
    state = json.loads(json.dumps(miner.to_json()))
    restored = TemplateMiner.from_json(state)
    assert restored.templates() == miner.templates()
    a = miner.add("PacketResponder 0 for block blk_5 terminating")
    b = restored.add("PacketResponder 0 for block blk_5 terminating")
    assert a.template_id == b.template_id and not b.is_new
    assert restored.to_json() == miner.to_json()


def test_ids_are_stable_across_runs() -> None:
    ids_one = [m.template_id for m in TemplateMiner().add_batch(HDFS_LIKE)]
    ids_two = [m.template_id for m in TemplateMiner().add_batch(HDFS_LIKE)]
    assert ids_one == ids_two
    assert ids_one[4] == template_id_of("Verification succeeded for <*>")


def test_template_cap_evicts_least_recent_and_counts() -> None:
    miner = TemplateMiner(MinerConfig(max_templates=3))
    for i in range(10):
        miner.add(f"event{chr(97 + i)} happened {i}")
    stats = miner.stats()
    assert stats["templates"] == 3
    assert stats["evicted_templates"] == 7
    assert [t.template for t in miner.templates()][-1].startswith("event")
    assert miner.match("eventa happened 1") is None  # evicted
    assert miner.match("eventj happened 1") is not None


def test_key_cap_evicts_and_counts() -> None:
    miner = TemplateMiner(MinerConfig(max_keys=2))
    for user in ("alice", "bob", "carol", "dave", "erin"):
        miner.add(f"Invalid user {user} from 10.0.0.1")
    stats = miner.stats()
    assert stats["keys"] == 2
    assert stats["evicted_keys"] == 3


def test_variable_length_lines_are_capped() -> None:
    miner = TemplateMiner(MinerConfig(max_tokens=8))
    match = miner.add(" ".join(f"w{i}" for i in range(50)))
    assert len(match.template.split()) <= 8 + 49  # the tail is one token


def test_date_time_phrase_is_one_parameter() -> None:
    miner = TemplateMiner()
    match = miner.add("connection from 1.2.3.4 at Fri Jun 17 07:07:00 2005")
    assert match.template == "connection from <*> at <*>:<*>:<*>"
    assert match.params == ["1.2.3.4", "Fri Jun 17 07:07:00 2005"]


def test_unsupported_state_version_is_rejected() -> None:
    import pytest

    from opscope.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        TemplateMiner.from_json({"version": 99})


def test_runs_of_values_of_any_length_are_one_event() -> None:
    miner = TemplateMiner()
    first = miner.add("BLOCK* ask 10.0.0.1:50010 to delete blk_1")
    miner.add("BLOCK* ask 10.0.0.2:50010 to delete blk_2 blk_3 blk_4")
    third = miner.add("BLOCK* ask 10.0.0.3:50010 to delete blk_5 blk_6")
    assert len(miner.templates()) == 1
    assert third.template == "BLOCK* ask <*>:<*> to delete <*>"
    assert third.params == ["10.0.0.3", "50010", "blk_5 blk_6"]
    assert miner.resolve(first.template_id) == third.template_id
    restored = TemplateMiner.from_json(json.loads(json.dumps(miner.to_json())))
    again = restored.add("BLOCK* ask 10.0.0.4:50010 to delete blk_7 blk_8 blk_9 blk_10 blk_11")
    assert again.template_id == third.template_id and again.params[-1].endswith("blk_11")


def test_optional_fields_stay_separate_events() -> None:
    miner = TemplateMiner()
    miner.add("authentication failure; uid=0 rhost=10.0.0.1")
    miner.add("authentication failure; uid=0 rhost=10.0.0.2 user=alice")
    assert len(miner.templates()) == 2
