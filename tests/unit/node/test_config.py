"""NodeSettings' machine-derived default: validators per usable CPU, not per host CPU."""

from __future__ import annotations

import os

import pytest

from aurigraph.node import config
from aurigraph.node.config import NodeSettings, usable_cpus


@pytest.mark.parametrize(("cpu_max", "cap"), [("max 100000", None), ("150000 100000", 2), ("50000 100000", 1),
                                              ("800000 100000", 8), ("garbled", None)])
def test_a_cgroup_quota_caps_the_affinity_mask(tmp_path, monkeypatch, cpu_max, cap):
    (tmp_path / "cpu.max").write_text(cpu_max + "\n")
    monkeypatch.setattr(config, "CGROUP_CPU_MAX", tmp_path / "cpu.max")
    mask = len(os.sched_getaffinity(0))
    assert usable_cpus() == (mask if cap is None else min(mask, cap))


def test_without_a_cgroup_file_the_affinity_mask_counts(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "CGROUP_CPU_MAX", tmp_path / "absent")
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 3, 5})  # 3 of the host's cores
    assert usable_cpus() == 3 and NodeSettings().validators == 3
