"""Near-duplicate matching in a partitioned stream: blocks, each record's pairs, clusters.

Why blocks keyed by blocking key (and not a replicated index): a duplicate pair is found
when the second record of the pair reaches a *block* that already holds the first. Every
block lives on exactly one partition, so arrivals at a block are totally ordered, and
whichever record comes second sees the first: the same pairs are found with one worker or
ten, whatever partitions the two records' changes land on. A replicated index (every worker
holding every record) would need no extra hop, but two duplicates arriving at the same time
on two workers would each miss the other, and every worker would hold the whole table.

The flow, each step a pure function here and a thin agent in ``streams.agents``:

1. :func:`on_record` (record partition): a record whose matchable profile changed asks each
   of its blocks to index it (:class:`IndexRequest`, keyed by block key); a deleted or merged
   record asks every block it was ever indexed in to keep it as a tombstone. Its enriched
   record waits in :class:`Pending`.
2. :func:`index_in_block` (block partition): compare with the block's members, store the
   record, answer with the candidates (:class:`BlockAnswer`, keyed by record).
3. :func:`on_answer` (record partition): when every block answered, decide each candidate
   pair, update the record's links and cluster, tell the other record (:class:`LinkMessage`),
   emit the pair's :class:`~schemas.duplicates.DuplicateEvent` and the enriched record.
4. :func:`on_link` (record partition): the other side of a pair, cluster ids spreading to
   the oldest record of the cluster, reviewers' verdicts.

A pair event is emitted by the partition of the pair's newer record only, so a pair found
from both sides at once is still reported once per decision change.

Every version: a block keeps the versions of a record it has seen (an update indexes the new
version under its keys and leaves the old ones in place until a delete or merge), compares
an arriving version with all of them, and a pair's decision only ever rises. Two versions
that share a key meet at that key's block whichever comes second, so the decisions do not
depend on how changes of different records interleave, which differs with every worker
count; and an old mailbox or address still identifies the person, as it does in real CRMs.

Deletes by the clock of the source: a deleted record stays in its blocks as a tombstone
(``Member.deleted_at``, the delete's source time) for :data:`TOMBSTONE_GRACE`, and a record
arriving at a block meets it only if its own change happened before the delete. Two records
that existed at the same moment are thus compared even when the delete of one overtook the
other's create on its way through the partitions, and two that never did are not compared
even when it is the other way round; the pair found across a delete is withdrawn at once
(the deleted side answers "gone"), exactly as when the delete came last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from models.matching.matcher import DuplicateMatcher
from models.matching.profile import Profile
from schemas.duplicates import Decision, DuplicateEvent, DuplicateVerdict, RecordRef
from schemas.enrich import EnrichedRecord
from schemas.record import MergeOutcome

VERSIONS_KEPT: Final = 3
"""Versions of a record a block compares with: enough for the usual few identity changes."""

TOMBSTONE_GRACE: Final = timedelta(days=7)
"""How long, in source time, a block keeps a deleted record for changes that happened before
the delete but reach the block after it: longer than partitions of one backlog drift apart."""

__all__ = [
    "Block",
    "BlockAnswer",
    "Effects",
    "IndexRequest",
    "LearningSample",
    "LinkMessage",
    "MatchState",
    "PairJudge",
    "candidate_floor",
    "index_in_block",
    "on_answer",
    "on_link",
    "on_record",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Root(_Frozen):
    """A cluster's oldest record: the older ``since`` (then the smaller key) wins."""

    since: AwareDatetime
    key: str

    def order(self) -> tuple[datetime, str]:
        return (self.since, self.key)


class Member(_Frozen):
    """What a block keeps of a record: enough to score it and to name its cluster.

    ``profiles`` are the record's versions seen by this block, newest last (at most
    :data:`VERSIONS_KEPT`): see "every version" in the module docstring. ``deleted_at`` is
    set on a tombstone: see "deletes" there.
    """

    key: str
    created_at: AwareDatetime
    cluster: Root
    profiles: list[dict[str, str]]
    deleted_at: AwareDatetime | None = None

    def present_at(self, moment: datetime) -> bool:
        """Whether the record still existed when a change made at ``moment`` happened."""
        return self.deleted_at is None or moment < self.deleted_at


class Block(_Frozen):
    """The records sharing one blocking key.

    A block that outgrows ``max_members`` (a switchboard phone, a role address) is
    *saturated*: its members are dropped and it is never compared again, since a key that
    many records share says little about identity and would make every arrival cost O(block).
    """

    members: dict[str, Member] = Field(default_factory=dict)
    saturated: bool = False


class IndexRequest(_Frozen):
    """Record -> block: index (``member`` set) or un-index (``member`` None) one record.

    ``at`` is the source time of the change that asked (see "deletes" in the module
    docstring).
    """

    block_key: str
    record_key: str
    seq: int
    at: AwareDatetime
    member: Member | None


class Candidate(_Frozen):
    """A block member worth deciding on, as scored against the asking record."""

    key: str
    created_at: AwareDatetime
    cluster: Root
    score: float
    similarities: dict[str, float]


class BlockAnswer(_Frozen):
    """Block -> record: the candidates one block found for one request."""

    record_key: str
    seq: int
    block_key: str
    candidates: list[Candidate]


class LinkMessage(_Frozen):
    """Record -> record: news about a pair or about the sender's cluster."""

    kind: Literal["pair", "cluster", "gone", "feedback"]
    target: str
    sender: str
    sender_created_at: AwareDatetime | None = Field(
        description="None when the sender's age is not known (a reviewer's verdict)"
    )
    cluster: Root
    decision: Decision = Decision.DISTINCT
    score: float = 0.0
    probability: float = 0.0
    similarities: dict[str, float] = Field(default_factory=dict)


class LearningSample(_Frozen):
    """A reviewed pair for the learned match model."""

    similarities: dict[str, float]
    is_duplicate: bool
    decision_at_time: Decision


class PairLink(_Frozen):
    """One side's view of a pair that is not (or no longer known to be) distinct."""

    other_created_at: AwareDatetime
    decision: Decision
    score: float
    probability: float
    similarities: dict[str, float]
    source: Literal["matcher", "feedback", "record_gone"]

    @property
    def pinned(self) -> bool:
        """A reviewer decided: the matcher never overrides a human verdict."""
        return self.source == "feedback"


class Pending(_Frozen):
    """An enriched record waiting for its blocks' answers."""

    seq: int
    matching: bool = Field(description="blocks were asked: decide the pairs when all answer")
    awaiting: list[str] = Field(default_factory=list)
    candidates: dict[str, Candidate] = Field(default_factory=dict)
    enriched: str


class MatchState(_Frozen):
    """What the record partition knows about one record's duplicates (the ``matches`` table)."""

    key: str
    created_at: AwareDatetime
    profile: dict[str, str] = Field(default_factory=dict)
    keys: list[str] = Field(default_factory=list)
    seq: int = 0
    pending: list[Pending] = Field(default_factory=list)
    links: dict[str, PairLink] = Field(default_factory=dict)
    cluster: Root
    gone: bool = False

    def verdict(self) -> DuplicateVerdict:
        older_duplicates = [
            (link.score, other)
            for other, link in self.links.items()
            if link.decision is Decision.DUPLICATE
            and (link.other_created_at, other) < (self.created_at, self.key)
        ]
        return DuplicateVerdict(
            duplicate_of=RecordRef.parse(max(older_duplicates)[1]) if older_duplicates else None,
            possible_duplicates=[
                RecordRef.parse(other)
                for other, link in sorted(self.links.items())
                if link.decision is Decision.POSSIBLE
            ],
            cluster_id=RecordRef.parse(self.cluster.key),
        )


class PairJudge(Protocol):
    """Decides a pair from its per-field similarities (the learned model, or the rule)."""

    def decide(self, similarities: Mapping[str, float]) -> tuple[float, Decision]: ...


@dataclass
class Effects:
    """What one step asks the shell to send, in order."""

    index_requests: list[IndexRequest] = field(default_factory=list)
    links: list[LinkMessage] = field(default_factory=list)
    duplicates: list[DuplicateEvent] = field(default_factory=list)
    enriched: list[EnrichedRecord] = field(default_factory=list)
    learning: list[LearningSample] = field(default_factory=list)


# -- blocks -----------------------------------------------------------------------------------


def candidate_floor(review_threshold: float) -> float:
    """The least score a block sends back: no learned model moves a pair scoring below it
    to a ``possible`` decision, so the record side needs only those above."""
    return min(0.5, review_threshold)


def index_in_block(
    block: Block | None,
    request: IndexRequest,
    matcher: DuplicateMatcher,
    *,
    max_members: int,
    floor: float,
) -> tuple[Block | None, BlockAnswer | None]:
    """Apply one request to a block; an index request is answered with its candidates.

    An un-index request leaves a tombstone (see "deletes" in the module docstring).
    Candidates scoring below ``floor`` are not sent back: the record side could only call
    them distinct, and most pairs in a block are.
    """
    block = _without_expired(block, request.at)
    member = request.member
    if member is None:
        return _tombstoned(block, request.record_key, request.at), None
    block = block or Block()
    candidates = [] if block.saturated else _candidates(block, member, request.at, matcher, floor)
    known = block.members.get(member.key)
    if known is not None:
        versions = [p for p in known.profiles if p not in member.profiles] + member.profiles
        member = member.model_copy(update={"profiles": versions[-VERSIONS_KEPT:]})
    members = {**block.members, member.key: member}
    live = sum(other.deleted_at is None for other in members.values())
    updated = (
        Block(saturated=True) if block.saturated or live > max_members else Block(members=members)
    )
    answer = BlockAnswer(
        record_key=request.record_key,
        seq=request.seq,
        block_key=request.block_key,
        candidates=candidates,
    )
    return updated, answer


def _candidates(
    block: Block, member: Member, at: datetime, matcher: DuplicateMatcher, floor: float
) -> list[Candidate]:
    candidates = []
    for other in block.members.values():
        if other.key == member.key or not other.present_at(at):
            continue
        result = max(
            (
                matcher.score_profiles(mine, theirs)
                for mine in member.profiles
                for theirs in other.profiles
            ),
            key=lambda scored: scored.score,
        )
        if result.score >= floor:
            candidates.append(
                Candidate(
                    key=other.key,
                    created_at=other.created_at,
                    cluster=other.cluster,
                    score=result.score,
                    similarities=result.similarities,
                )
            )
    return candidates


def _tombstoned(block: Block | None, record_key: str, at: datetime) -> Block | None:
    known = block.members.get(record_key) if block is not None else None
    if block is None or known is None:
        return block
    members = {**block.members, record_key: known.model_copy(update={"deleted_at": at})}
    return Block(members=members, saturated=block.saturated)


def _without_expired(block: Block | None, now: datetime) -> Block | None:
    """The block without tombstones older than the grace (None when nothing is left)."""
    if block is None:
        return None
    members = {
        key: member
        for key, member in block.members.items()
        if member.deleted_at is None or member.deleted_at + TOMBSTONE_GRACE >= now
    }
    if len(members) == len(block.members):
        return block
    if not members and not block.saturated:
        return None
    return Block(members=members, saturated=block.saturated)


# -- the record side --------------------------------------------------------------------------


def on_record(
    state: MatchState | None,
    enriched: EnrichedRecord,
    profile: Profile,
    keys: Iterable[str],
    *,
    judge: PairJudge,
    now: datetime,
) -> tuple[MatchState | None, Effects]:
    """A record changed: re-index it if its profile changed, else emit its enriched record.

    ``profile`` and ``keys`` are the record's current matchable profile and blocking keys
    (both empty for entity types that are never matched).
    """
    effects = Effects()
    record = enriched.record
    key = enriched.change.record_key().decode()
    new_keys = sorted(set(keys))
    if state is None:
        if not new_keys or record.deleted or record.merged_into is not None:
            effects.enriched.append(enriched)  # nothing to match, nothing to remember
            return None, effects
        root = Root(since=record.created_at, key=key)
        state = MatchState(key=key, created_at=record.created_at, cluster=root)
    if enriched.merge_outcome is MergeOutcome.REDELIVERED:
        effects.index_requests.extend(_asked_again(state))
    if record.deleted or record.merged_into is not None:
        state = _gone(state, enriched.change.occurred_at, now, effects)
        return _queue(state, enriched, judge, now, effects)
    if profile == state.profile and not state.gone:
        return _queue(state, enriched, judge, now, effects)
    seq = state.seq + 1
    member = Member(key=key, created_at=state.created_at, cluster=state.cluster, profiles=[profile])
    effects.index_requests.extend(
        IndexRequest(
            block_key=block_key,
            record_key=key,
            seq=seq,
            at=enriched.change.occurred_at,
            member=member,
        )
        for block_key in new_keys
    )
    every_key = sorted(set(state.keys) | set(new_keys))  # un-indexed only when gone
    state = state.model_copy(
        update={"profile": profile, "keys": every_key, "seq": seq, "gone": False}
    )
    return _queue(state, enriched, judge, now, effects, awaiting=new_keys)


def _asked_again(state: MatchState) -> list[IndexRequest]:
    """The requests of every round still waiting for blocks, to send again.

    A change comes again after a crash when its input offset was not committed; its state
    writes may have reached the changelog while some of its index requests did not (they are
    separate messages, on other partitions). The state then says "asked" and the redelivered
    change would ask nothing, so the round, and every enriched record queued behind it, would
    wait forever. Asking again is safe: a block answers every request, and an answer that is
    no longer awaited is ignored. The member is the record as it stands, the version the
    blocks are to keep anyway.
    """
    member = Member(
        key=state.key, created_at=state.created_at, cluster=state.cluster, profiles=[state.profile]
    )
    return [
        IndexRequest(
            block_key=block_key,
            record_key=state.key,
            seq=waiting.seq,
            at=EnrichedRecord.model_validate_json(waiting.enriched).change.occurred_at,
            member=member,
        )
        for waiting in state.pending
        if waiting.matching
        for block_key in waiting.awaiting
    ]


def on_answer(
    state: MatchState | None, answer: BlockAnswer, judge: PairJudge, now: datetime
) -> tuple[MatchState | None, Effects]:
    """One block answered; when all have, decide the pairs and emit what waited."""
    effects = Effects()
    if state is None:
        return None, effects
    pending = [
        _take_answer(waiting, answer)
        if waiting.seq == answer.seq and answer.block_key in waiting.awaiting
        else waiting
        for waiting in state.pending
    ]
    return _flush(state.model_copy(update={"pending": pending}), judge, now, effects)


def on_link(
    state: MatchState | None, message: LinkMessage, now: datetime
) -> tuple[MatchState | None, Effects]:
    """News from the other record of a pair (see :class:`LinkMessage`)."""
    effects = Effects()
    if state is None:
        return state, effects
    sender = message.sender
    if state.gone:
        if message.kind in {"pair", "feedback"}:  # news that crossed our delete: undo it there
            effects.links.append(_link_message(state, sender, "gone"))
        if message.kind == "pair" and message.decision is not Decision.DISTINCT:
            _found_after_gone(state, message, now, effects)
        return state, effects
    link = state.links.get(sender)
    if message.kind == "gone":
        if link is not None:
            state = _with_link(state, sender, None)
            _withdraw(state, sender, link, now, effects)
        return state, effects
    if message.kind == "pair":
        if link is None or (not link.pinned and _RANK[message.decision] > _RANK[link.decision]):
            state = _take_decision(state, message, "matcher", now, effects)
        elif _RANK[link.decision] > _RANK[message.decision]:  # ours is better: both keep it
            effects.links.append(_pair_message(state, sender, link))
    elif message.kind == "feedback":
        if link is not None and sender < state.key:  # one side of the pair teaches the model
            effects.learning.append(
                LearningSample(
                    similarities=link.similarities,
                    is_duplicate=message.decision is Decision.DUPLICATE,
                    decision_at_time=link.decision,
                )
            )
        state = _take_decision(state, message, "feedback", now, effects)
    now_linked = state.links.get(sender)
    if now_linked is not None and now_linked.decision is Decision.DUPLICATE:
        state = _meet_cluster(state, sender, message.cluster, effects)
    return state, effects


def _found_after_gone(
    state: MatchState, message: LinkMessage, now: datetime, effects: Effects
) -> None:
    """The other record met this one's tombstone: the pair existed until the delete, so it
    is reported found and ended, as it would have been had it been found before."""
    link = PairLink(
        other_created_at=message.sender_created_at or state.created_at,
        decision=message.decision,
        score=message.score,
        probability=message.probability,
        similarities=message.similarities,
        source="matcher",
    )
    _report(
        state,
        message.sender,
        other_created_at=link.other_created_at,
        old=None,
        new=link.decision,
        link=link,
        now=now,
        effects=effects,
    )
    _withdraw(state, message.sender, link, now, effects)


def feedback_messages(
    record: RecordRef, other: RecordRef, verdict: Literal["confirmed", "rejected"]
) -> list[LinkMessage]:
    """A reviewer's verdict, as one message to each record of the pair.

    The cluster named is the sender itself with no age, which never wins against a real
    root: a confirmed pair exchanges its real roots as any duplicate pair does.
    """
    decision = Decision.DUPLICATE if verdict == "confirmed" else Decision.DISTINCT
    certainty = 1.0 if decision is Decision.DUPLICATE else 0.0
    return [
        LinkMessage(
            kind="feedback",
            target=target,
            sender=sender,
            sender_created_at=None,
            cluster=Root(since=datetime.max.replace(tzinfo=UTC), key=sender),
            decision=decision,
            score=certainty,
            probability=certainty,
        )
        for target, sender in ((record.key(), other.key()), (other.key(), record.key()))
    ]


# -- internals --------------------------------------------------------------------------------


def _take_answer(waiting: Pending, answer: BlockAnswer) -> Pending:
    """Keep each candidate's best score over the blocks that found it."""
    best = dict(waiting.candidates)
    for candidate in answer.candidates:
        known = best.get(candidate.key)
        if known is None or candidate.score > known.score:
            best[candidate.key] = candidate
    return waiting.model_copy(
        update={
            "awaiting": [k for k in waiting.awaiting if k != answer.block_key],
            "candidates": best,
        }
    )


def _json(enriched: EnrichedRecord) -> str:
    return enriched.model_dump_json()


def _queue(
    state: MatchState,
    enriched: EnrichedRecord,
    judge: PairJudge,
    now: datetime,
    effects: Effects,
    *,
    awaiting: list[str] | None = None,
) -> tuple[MatchState, Effects]:
    """Enriched records leave in change order: one waits behind earlier ones still matching.

    ``awaiting``: the blocks asked for a new matching round (state.seq); None for no round.
    A record with nothing ahead of it and no block to wait for leaves at once, as it is (a
    round without answers has no candidates to decide): only a record that waits is kept in
    the state, as JSON, and read back when it leaves.
    """
    if not state.pending and not awaiting:
        effects.enriched.append(enriched.model_copy(update={"duplicates": state.verdict()}))
        return state, effects
    waiting = Pending(
        seq=state.seq,
        matching=awaiting is not None,
        awaiting=awaiting or [],
        enriched=_json(enriched),
    )
    return _flush(
        state.model_copy(update={"pending": [*state.pending, waiting]}), judge, now, effects
    )


def _flush(
    state: MatchState, judge: PairJudge, now: datetime, effects: Effects
) -> tuple[MatchState, Effects]:
    while state.pending and not state.pending[0].awaiting:
        head, *rest = state.pending
        state = state.model_copy(update={"pending": rest})
        decided = state
        if head.matching:  # every version's pairs count: see the docstring
            decided = _decide_round(state, head, judge, now, effects)
            # A round that outlived its record: its pairs existed until the delete, as they
            # would have had the answers come first; they end at once.
            state = _end_every_pair(decided, now, effects) if state.gone else decided
        effects.enriched.append(_with_verdict(head.enriched, decided))
    return state, effects


def _decide_round(
    state: MatchState, round_: Pending, judge: PairJudge, now: datetime, effects: Effects
) -> MatchState:
    """Decide every candidate of a full matching round; a decision only ever rises.

    See "every version" in the module docstring: a pair's decision is the best its versions
    ever earned, so a later update (a new mailbox, a move) does not undo it; a reviewer's
    rejection, a delete or a merge does.
    """
    for other, candidate in sorted(round_.candidates.items()):
        probability, decision = judge.decide(candidate.similarities)
        known = state.links.get(other)
        if known is not None and (known.pinned or _RANK[known.decision] >= _RANK[decision]):
            continue
        if decision is Decision.DISTINCT:
            continue
        link = PairLink(
            other_created_at=candidate.created_at,
            decision=decision,
            score=candidate.score,
            probability=probability,
            similarities=candidate.similarities,
            source="matcher",
        )
        if decision is Decision.DUPLICATE:  # first, so the pair event names the cluster
            state = _meet_cluster(state, other, candidate.cluster, effects)
        state = _change_pair(state, other, link, now, effects)
    return state


_RANK: Final = {Decision.DISTINCT: 0, Decision.POSSIBLE: 1, Decision.DUPLICATE: 2}


def _change_pair(
    state: MatchState, other: str, new: PairLink | None, now: datetime, effects: Effects
) -> MatchState:
    """This side decided the pair: keep it, tell the other side, report a changed decision."""
    old = state.links.get(other)
    state = _with_link(state, other, new)
    shown = new or old
    if shown is None or _decision(old) is _decision(new):
        return state
    effects.links.append(_pair_message(state, other, shown, decision=_decision(new)))
    _report(
        state,
        other,
        other_created_at=shown.other_created_at,
        old=old,
        new=_decision(new),
        link=shown,
        now=now,
        effects=effects,
    )
    return state


def _take_decision(
    state: MatchState,
    message: LinkMessage,
    source: Literal["matcher", "feedback"],
    now: datetime,
    effects: Effects,
) -> MatchState:
    """The other side (or a reviewer) decided the pair: keep it, without echoing it back."""
    old = state.links.get(message.sender)
    other_created_at = (
        old.other_created_at
        if old is not None
        else message.sender_created_at or state.created_at  # unknown age: order by key
    )
    new: PairLink | None = None
    if message.decision is not Decision.DISTINCT or source == "feedback":
        new = PairLink(
            other_created_at=other_created_at,
            decision=message.decision,
            score=old.score if old is not None and source == "feedback" else message.score,
            probability=message.probability,
            similarities=message.similarities or (old.similarities if old is not None else {}),
            source=source,
        )
    state = _with_link(state, message.sender, new)
    shown = new or old
    if shown is not None and (_decision(old) is not _decision(new) or source == "feedback"):
        _report(
            state,
            message.sender,
            other_created_at=other_created_at,
            old=old,
            new=_decision(new),
            link=shown,
            now=now,
            effects=effects,
        )
    return state


def _decision(link: PairLink | None) -> Decision:
    return Decision.DISTINCT if link is None else link.decision


def _report(
    state: MatchState,
    other: str,
    *,
    other_created_at: datetime,
    old: PairLink | None,
    new: Decision,
    link: PairLink,
    now: datetime,
    effects: Effects,
) -> None:
    """Emit the pair event, from the newer record's side only (see the module docstring)."""
    if (state.created_at, state.key) < (other_created_at, other):
        return
    effects.duplicates.append(
        DuplicateEvent(
            record=RecordRef.parse(state.key),
            other=RecordRef.parse(other),
            decision=new,
            previous_decision=None if old is None else old.decision,
            score=min(max(link.score, 0.0), 1.0),
            probability=min(max(link.probability, 0.0), 1.0),
            similarities=link.similarities,
            source=link.source,
            cluster_id=RecordRef.parse(state.cluster.key),
            decided_at=now,
        )
    )


def _meet_cluster(state: MatchState, other: str, theirs: Root, effects: Effects) -> MatchState:
    """Min-label propagation: the older root wins and spreads to every duplicate neighbour."""
    if theirs.order() < state.cluster.order():
        state = state.model_copy(update={"cluster": theirs})
        effects.links.extend(
            _link_message(state, neighbour, "cluster")
            for neighbour, link in sorted(state.links.items())
            if neighbour != other and link.decision is Decision.DUPLICATE
        )
    elif state.cluster.order() < theirs.order():
        effects.links.append(_link_message(state, other, "cluster"))
    return state


def _link_message(state: MatchState, target: str, kind: Literal["cluster", "gone"]) -> LinkMessage:
    return LinkMessage(
        kind=kind,
        target=target,
        sender=state.key,
        sender_created_at=state.created_at,
        cluster=state.cluster,
    )


def _pair_message(
    state: MatchState, target: str, link: PairLink, decision: Decision | None = None
) -> LinkMessage:
    return LinkMessage(
        kind="pair" if link.source != "feedback" else "feedback",
        target=target,
        sender=state.key,
        sender_created_at=state.created_at,
        cluster=state.cluster,
        decision=link.decision if decision is None else decision,
        score=link.score,
        probability=link.probability,
        similarities=link.similarities,
    )


def _withdraw(
    state: MatchState, other: str, link: PairLink, now: datetime, effects: Effects
) -> None:
    """Report a pair ended by a delete or merge of either record (from the newer side)."""
    _report(
        state,
        other,
        other_created_at=link.other_created_at,
        old=link,
        new=Decision.DISTINCT,
        link=link.model_copy(update={"source": "record_gone"}),
        now=now,
        effects=effects,
    )


def _with_link(state: MatchState, other: str, link: PairLink | None) -> MatchState:
    """The state with its link to ``other`` set, or dropped when ``link`` is None."""
    links = {k: v for k, v in state.links.items() if k != other}
    if link is not None:
        links[other] = link
    return state.model_copy(update={"links": links})


def _gone(state: MatchState, at: datetime, now: datetime, effects: Effects) -> MatchState:
    """Deleted or merged away (at ``at``, source time): leave every block, tell every pair
    partner, withdraw its pairs."""
    effects.index_requests.extend(
        IndexRequest(block_key=key, record_key=state.key, seq=state.seq, at=at, member=None)
        for key in state.keys
    )
    state = _end_every_pair(state, now, effects)
    return state.model_copy(update={"keys": [], "profile": {}, "gone": True, "seq": state.seq + 1})


def _end_every_pair(state: MatchState, now: datetime, effects: Effects) -> MatchState:
    """Tell every pair partner this record is gone and withdraw the pairs."""
    for other, link in sorted(state.links.items()):
        effects.links.append(_link_message(state, other, "gone"))
        _withdraw(state, other, link, now, effects)
    return state.model_copy(update={"links": {}})


def _with_verdict(enriched_json: str, state: MatchState) -> EnrichedRecord:
    enriched = EnrichedRecord.model_validate_json(enriched_json)
    return enriched.model_copy(update={"duplicates": state.verdict()})
