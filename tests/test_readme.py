"""The README is the newcomer's reference: it must name every setting, code and metric."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import REGISTRY

import streams.metrics  # noqa: F401  (registers the metrics)
from schemas.errors import ErrorCode
from streams.settings import ENV_PREFIX, Settings

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_every_setting_is_documented_with_its_variable() -> None:
    for name in Settings.model_fields:
        assert f"`{ENV_PREFIX}{name.upper()}`" in README, name


def test_every_dead_letter_code_is_documented() -> None:
    for code in ErrorCode:
        assert f"| `{code.value}` |" in README, code


def test_every_metric_is_documented() -> None:
    ours = {m.name for m in REGISTRY.collect() if m.name.startswith("crmstream_")}
    assert ours
    documented = set(re.findall(r"`(crmstream_[a-z_]+)`", README))
    assert {name.removesuffix("_total") for name in documented} >= ours
