"""Matcher quality on the generator's ground truth: pair precision and recall, as the stream
would see them, through the stream's own block logic in event order
(:func:`bench.dedup_thresholds.replay`). Pairs of records that never existed at the same time
(the original deleted before its re-entry) are out of scope: such records never meet.
"""

from __future__ import annotations

from bench.dedup_thresholds import SeedRun, run_seed
from models.matching import DuplicateMatcher

SEED = 20240611


def test_pair_precision_and_recall_on_generated_duplicates() -> None:
    """20k events (about 240 true pairs: 3k events give only ~30, too few to measure 0.95)."""
    matcher = DuplicateMatcher()
    run: SeedRun = run_seed(SEED, 20_000, matcher)
    quality = run.quality(matcher.duplicate_threshold)
    result = run.replay
    per_record = result.members_compared / result.indexings
    micros = 1e6 * result.block_seconds / result.indexings
    print(
        f"\ntrue pairs {quality.true_pairs}, cluster pairs: precision {quality.precision:.4f}"
        f" recall {quality.recall:.4f}; members compared per indexing {per_record:.2f},"
        f" {micros:.0f} us in blocks per indexing (thresholds {matcher.duplicate_threshold}"
        f"/{matcher.review_threshold})"
    )
    assert quality.precision >= 0.98
    assert quality.recall >= 0.97
    assert per_record < 2.0


def test_the_review_band_catches_what_automatic_merging_leaves() -> None:
    """Down to the review threshold nearly every true pair is found, and a reviewer would
    confirm most of the pairs shown (bench.dedup_thresholds draws the whole curve)."""
    matcher = DuplicateMatcher()
    at_review = run_seed(SEED, 20_000, matcher).quality(matcher.review_threshold)
    assert at_review.recall >= 0.99
    assert at_review.precision >= 0.95
