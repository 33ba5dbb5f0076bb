"""Pair precision and recall of found duplicates against a ground truth.

Duplicates are judged as clusters: if A~B and B~C are found, A~C is claimed too (that is what
a cluster id tells a downstream merge), and if the truth says B copies A and C copies B, A~C
is a true pair. Scoring the transitive closure on both sides keeps a matcher from being
rewarded for chains it never closed or punished for closing them.

>>> quality = pair_quality(
...     found=[frozenset({"a", "b"}), frozenset({"b", "c"})],
...     truth=[frozenset({"a", "b"}), frozenset({"a", "c"})])
>>> quality.precision, quality.recall, quality.true_pairs
(1.0, 1.0, 3)

A pair can also be out of scope: two records that never existed at the same time (one was
deleted before the other was created) are not paired by a matcher that respects deletes, so
``in_scope`` leaves such pairs out on both sides, after the closure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Pair", "PairQuality", "cluster_pairs", "coexisting", "pair_quality"]

Pair = frozenset[str]


@dataclass(frozen=True, slots=True)
class PairQuality:
    """How the found clusters compare with the true ones, as pairs."""

    precision: float
    recall: float
    f1: float
    true_pairs: int
    found_pairs: int
    correct_pairs: int


def cluster_pairs(edges: Iterable[Pair]) -> set[Pair]:
    """Every pair within the connected components of ``edges``."""
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in (sorted(edge) for edge in edges):
        parent[root(a)] = root(b)
    clusters: dict[str, list[str]] = {}
    for node in list(parent):
        clusters.setdefault(root(node), []).append(node)
    return {
        frozenset((a, b))
        for members in clusters.values()
        for a in members
        for b in members
        if a < b
    }


def coexisting(lifetimes: Mapping[str, tuple[float, float]]) -> Callable[[Pair], bool]:
    """A scope test: whether a pair's records both existed at one moment, by their (created,
    deleted) times; a record without a known lifetime is always in scope.

    >>> in_scope = coexisting({"a": (1, 5), "b": (3, float("inf")), "c": (7, float("inf"))})
    >>> in_scope(frozenset({"a", "b"})), in_scope(frozenset({"a", "c"}))
    (True, False)
    """

    def in_scope(pair: Pair) -> bool:
        spans = [lifetimes[record] for record in pair if record in lifetimes]
        return max(start for start, _ in spans) < min(end for _, end in spans) if spans else True

    return in_scope


def pair_quality(
    found: Iterable[Pair], truth: Iterable[Pair], in_scope: Callable[[Pair], bool] | None = None
) -> PairQuality:
    """Precision, recall and F1 of the clusters of ``found`` against those of ``truth``,
    over the pairs ``in_scope`` keeps (all by default)."""
    claimed, actual = cluster_pairs(found), cluster_pairs(truth)
    if in_scope is not None:
        claimed, actual = set(filter(in_scope, claimed)), set(filter(in_scope, actual))
    correct = len(claimed & actual)
    precision = correct / len(claimed) if claimed else 1.0
    recall = correct / len(actual) if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairQuality(precision, recall, f1, len(actual), len(claimed), correct)
