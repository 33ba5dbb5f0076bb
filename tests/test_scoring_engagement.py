"""Engagement news between partitions: what an activity, an opportunity or a contact tells
the lead, contact or account it belongs to, applied as the worker applies it (no Kafka)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.scoring.engagement import EngagementUpdate, apply_update, engagement_updates
from models.scoring.features import Engagement

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONTACT = {"first_name": "Ada", "account_id": "A1"}


def activity_news(
    related_type: str, related_id: str, activity_id: str = "T1"
) -> tuple[EngagementUpdate, ...]:
    fields = {
        "type": "call",
        "subject": "intro call",  # free text: never carried
        "related_type": related_type,
        "related_id": related_id,
        "activity_date": (NOW - timedelta(days=2)).isoformat(),
    }
    return engagement_updates(
        "activity", activity_id, fields, event_id=f"e-{activity_id}", occurred_at=NOW
    )


def over_the_wire(update: EngagementUpdate) -> EngagementUpdate:
    return EngagementUpdate.model_validate_json(update.model_dump_json())


def test_an_activity_of_a_lead_is_news_for_the_lead_only() -> None:
    [update] = activity_news("lead", "L1")
    assert update.target_key() == b"lead:L1"
    assert (update.source_type, update.source_id, update.event_id) == ("activity", "T1", "e-T1")
    assert set(update.fields) == {"activity_date"}
    step = apply_update(None, over_the_wire(update), target_fields={"company": "Acme"})
    assert step.changed
    assert step.forward is None
    assert step.engagement is not None
    features = step.engagement.features(NOW)
    assert features["activities_7d"] == 1.0
    assert features["days_since_last_activity"] == 2.0


def test_an_activity_of_a_contact_counts_for_its_account_once() -> None:
    [update] = activity_news("contact", "C1")
    assert update.target_key() == b"contact:C1", "the activity's side cannot know the account"
    contact = apply_update(None, over_the_wire(update), target_fields=CONTACT)
    assert contact.engagement is not None
    forward = contact.forward
    assert forward is not None
    assert (forward.target_key(), forward.forwarded) == (b"account:A1", True)
    assert forward.event_id == update.event_id

    account = apply_update(None, over_the_wire(forward), target_fields={"name": "Acme"})
    assert account.changed
    assert account.forward is None, "forwarded once, never again"
    assert account.engagement is not None
    assert account.engagement.features(NOW)["activities_total"] == 1.0


def test_a_contact_without_an_account_keeps_its_activity() -> None:
    [update] = activity_news("contact", "C1")
    step = apply_update(None, update, target_fields={"first_name": "Ada"})
    assert step.engagement is not None
    assert step.forward is None


def test_an_opportunity_is_open_amount_then_a_won_deal_of_its_account() -> None:
    fields = {"account_id": "A1", "name": "Renewal", "amount": 5000, "stage": "proposal"}
    [update] = engagement_updates("opportunity", "O1", fields, event_id="e1", occurred_at=NOW)
    assert update.target_key() == b"account:A1"
    assert set(update.fields) == {"amount", "stage"}
    step = apply_update(None, over_the_wire(update), target_fields={"name": "Acme"})
    assert step.changed
    assert step.engagement is not None
    features = step.engagement.features(NOW)
    assert features["open_opportunities"] == 1.0
    assert features["open_opportunity_amount"] > 8.5  # log1p(5000)

    won = {**fields, "stage": "closed_won", "is_won": True, "is_closed": True}
    [update] = engagement_updates("opportunity", "O1", won, event_id="e2", occurred_at=NOW)
    after = apply_update(step.engagement, update, target_fields={"name": "Acme"})
    assert after.engagement is not None
    features = after.engagement.features(NOW)
    assert (features["open_opportunities"], features["opportunities_won"]) == (0.0, 1.0)


def test_a_contact_is_counted_by_its_account() -> None:
    [update] = engagement_updates("contact", "C1", CONTACT, event_id="e1", occurred_at=NOW)
    assert (update.target_key(), update.fields) == (b"account:A1", {})
    step = apply_update(None, update, target_fields={"name": "Acme"})
    assert step.engagement is not None
    assert step.engagement.contacts == ("C1",)


def test_a_redelivered_update_changes_nothing_and_is_not_rescored() -> None:
    [update] = activity_news("contact", "C1")
    first = apply_update(None, update, target_fields=CONTACT)
    again = apply_update(first.engagement, over_the_wire(update), target_fields=CONTACT)
    assert (again.engagement, again.changed) == (None, False)
    assert again.forward == first.forward, "forwarded again: the first forward may be lost"
    assert first.forward is not None
    account = apply_update(None, first.forward, target_fields={}).engagement
    assert apply_update(account, first.forward, target_fields={}).engagement is None

    opportunities = Engagement().with_opportunity("O1", amount=1.0, closed=False, won=False)
    opportunities = opportunities.with_opportunity("O2", amount=2.0, closed=False, won=False)
    fields = {"account_id": "A1", "amount": 1.0, "stage": "proposal"}
    [same] = engagement_updates("opportunity", "O1", fields, event_id="e", occurred_at=NOW)
    assert not apply_update(opportunities, same, target_fields={}).changed, "order is no news"


def test_an_unknown_target_keeps_the_news_for_its_first_scoring() -> None:
    [update] = activity_news("contact", "C9")
    step = apply_update(None, update, target_fields=None)
    assert step.engagement is not None, "kept: the record's first change will be scored with it"
    assert not step.changed, "nothing to re-score"
    assert step.forward is None, "its account is not known (approximate)"


def test_a_deleted_target_gathers_nothing() -> None:
    [update] = activity_news("lead", "L1")
    step = apply_update(None, update, target_fields={"company": "Acme"}, target_deleted=True)
    assert (step.engagement, step.changed, step.forward) == (None, False, None)


def test_records_that_make_no_engagement_send_nothing() -> None:
    assert engagement_updates("lead", "L1", {}, event_id="e", occurred_at=NOW) == ()
    assert engagement_updates("opportunity", "O1", {}, event_id="e", occurred_at=NOW) == ()
    unrelated = {"related_type": "unknown", "related_id": "X1"}
    assert engagement_updates("activity", "T1", unrelated, event_id="e", occurred_at=NOW) == ()
