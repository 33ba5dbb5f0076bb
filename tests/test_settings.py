"""Configuration: environment variables in, one validated settings object or a clear error."""

from __future__ import annotations

import pytest

from streams.settings import ConfigurationError, load_settings
from streams.topics import (
    Table,
    Topic,
    deadletter_max_bytes,
    record_max_bytes,
    topic_name,
    topic_specs,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "CRMSTREAM_KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_need_no_environment() -> None:
    settings = load_settings()
    assert settings.topic_prefix == "crm."
    assert settings.web_host == "127.0.0.1"
    assert settings.kafka_bootstrap_servers is None


def test_the_conventional_kafka_variable_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", " 10.0.0.1:9092 , broker-2:9093 ")
    assert load_settings().bootstrap_servers == "10.0.0.1:9092,broker-2:9093"


def test_the_prefixed_kafka_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "a:1")
    monkeypatch.setenv("CRMSTREAM_KAFKA_BOOTSTRAP_SERVERS", "b:2")
    assert load_settings().bootstrap_servers == "b:2"


def test_commands_that_need_kafka_say_how_to_get_one() -> None:
    with pytest.raises(ConfigurationError, match="crmstream kafka start"):
        _ = load_settings().bootstrap_servers


def test_every_wrong_variable_is_named_in_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "no-port-here")
    monkeypatch.setenv("CRMSTREAM_WEB_PORT", "eighty")
    monkeypatch.setenv("CRMSTREAM_TOPIC_PARTITIONS", "0")
    monkeypatch.setenv("CRMSTREAM_PROCESSING_GUARANTEE", "at_most_once")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    for variable in (
        "KAFKA_BOOTSTRAP_SERVERS",
        "CRMSTREAM_WEB_PORT",
        "CRMSTREAM_TOPIC_PARTITIONS",
        "CRMSTREAM_PROCESSING_GUARANTEE",
    ):
        assert variable in message


def test_topics_follow_the_prefix_and_partitions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMSTREAM_TOPIC_PREFIX", "acme.crm.")
    monkeypatch.setenv("CRMSTREAM_TOPIC_PARTITIONS", "12")
    settings = load_settings()
    specs = {spec.name: spec for spec in topic_specs(settings)}
    changelogs = {f"{settings.app_id}-{table.value}-changelog" for table in Table}
    assert set(specs) == {f"acme.crm.{topic.value}" for topic in Topic} | changelogs
    learner = topic_name(settings, Topic.MATCH_LEARNING)
    assert specs.pop(learner).partitions == 1, "one learner keeps the match model consistent"
    assert {specs[name].config["cleanup.policy"] for name in changelogs} == {"compact"}
    model = specs.pop(f"{settings.app_id}-match-model-changelog")
    assert model.partitions == 1, "every worker reads the whole match model"
    for single in (
        topic_name(settings, Topic.MODEL_LEARNING),
        topic_name(settings, Topic.MODELS),
        f"{settings.app_id}-outcome-models-changelog",
    ):
        assert specs.pop(single).partitions == 1, "one learner, one checkpoint per model"
    assert {spec.partitions for spec in specs.values()} == {12}
    assert topic_name(settings, Topic.DEADLETTER) == "acme.crm.deadletter"


def test_the_deadletter_topic_holds_any_accepted_message_base64_encoded() -> None:
    settings = load_settings()
    spec = next(s for s in topic_specs(settings) if s.name.endswith("deadletter"))
    assert int(spec.config["max.message.bytes"]) == deadletter_max_bytes(settings)
    assert deadletter_max_bytes(settings) > settings.max_message_bytes * 4 // 3


def test_topics_carrying_whole_records_hold_twice_the_largest_accepted_message() -> None:
    """An enriched record holds the change and the merged record; the match state holds
    enriched records waiting for their round: all beyond the broker's 1 MiB default."""
    settings = load_settings()
    specs = {spec.name: spec for spec in topic_specs(settings)}
    carrying = [
        topic_name(settings, Topic.ROUTED),
        topic_name(settings, Topic.ENRICHED),
        f"{settings.app_id}-records-changelog",
        f"{settings.app_id}-matches-changelog",
    ]
    for name in carrying:
        assert int(specs[name].config["max.message.bytes"]) == record_max_bytes(settings)
    assert record_max_bytes(settings) >= 4 * settings.max_message_bytes
    assert specs[f"{settings.app_id}-matches-changelog"].config["cleanup.policy"] == "compact"


def test_extra_source_topics_are_read_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CRMSTREAM_SOURCE_TOPICS", '{"sf.cdc": "salesforce", "pg.leads": "debezium"}'
    )
    assert load_settings().source_topics == {"sf.cdc": "salesforce", "pg.leads": "debezium"}


def test_an_unknown_source_format_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMSTREAM_SOURCE_TOPICS", '{"sf.cdc": "zoho"}')
    with pytest.raises(ConfigurationError, match="CRMSTREAM_SOURCE_TOPICS"):
        load_settings()


def test_model_tiers_features_and_segments_are_read_as_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRMSTREAM_MODEL_TIER_CUTS", "[80, 50, 20]")
    monkeypatch.setenv("CRMSTREAM_MODEL_FEATURES_EXCLUDE", '["rating"]')
    monkeypatch.setenv("CRMSTREAM_MODEL_SEGMENTS", '{"lead_score": ["country"]}')
    settings = load_settings()
    assert settings.model_tier_cuts == (80, 50, 20)
    assert settings.model_features_include is None
    assert settings.model_features_exclude == ["rating"]
    assert settings.model_segments == {"lead_score": ["country"]}


def test_tier_cuts_out_of_order_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMSTREAM_MODEL_TIER_CUTS", "[45, 70, 25]")
    with pytest.raises(ConfigurationError, match=r"CRMSTREAM_MODEL_TIER_CUTS.*descending"):
        load_settings()
