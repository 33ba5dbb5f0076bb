"""Near-duplicate matching of CRM records: blocking keys, field comparisons, a decision.

Pure code (no Kafka): :mod:`~models.matching.profile` reads a standardized record into the
few comparable values matching needs, :mod:`~models.matching.blocking` turns them into keys
so that a record meets only a small candidate set, :mod:`~models.matching.compare` scores
field pairs with rapidfuzz, and :mod:`~models.matching.matcher` weighs them into a decision.
"""

from models.matching.blocking import blocking_keys
from models.matching.compare import compare_profiles
from models.matching.matcher import Decision, DuplicateMatcher, MatchRecord, MatchResult
from models.matching.profile import match_profile

__all__ = [
    "Decision",
    "DuplicateMatcher",
    "MatchRecord",
    "MatchResult",
    "blocking_keys",
    "compare_profiles",
    "match_profile",
]
