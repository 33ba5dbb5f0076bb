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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Pair", "PairQuality", "cluster_pairs", "pair_quality"]

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


def pair_quality(found: Iterable[Pair], truth: Iterable[Pair]) -> PairQuality:
    """Precision, recall and F1 of the clusters of ``found`` against those of ``truth``."""
    claimed, actual = cluster_pairs(found), cluster_pairs(truth)
    correct = len(claimed & actual)
    precision = correct / len(claimed) if claimed else 1.0
    recall = correct / len(actual) if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairQuality(precision, recall, f1, len(actual), len(claimed), correct)
