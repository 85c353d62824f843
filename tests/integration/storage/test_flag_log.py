"""The anomaly audit log on real RocksDB: numbering across restarts, reads, the bound, held senders."""

from __future__ import annotations

from aurigraph.storage.flag_log import FlagLog


def encode(flag: str, sequence: int) -> bytes:
    return f"{sequence}:{flag}".encode()


def test_flags_are_numbered_in_order_and_the_numbering_survives_a_restart(tmp_path):
    log = FlagLog(tmp_path / "flags")
    assert log.append(encode, ["a", "b"]) == [1, 2]
    assert log.append(encode, []) == []
    log.close()
    log = FlagLog(tmp_path / "flags")
    assert log.append(encode, ["c"]) == [3]
    assert log.read(1, 10) == [b"1:a", b"2:b", b"3:c"]
    assert log.read(2, 1) == [b"2:b"]
    assert log.read(0, 10)[0] == b"1:a" and log.read(4, 10) == []


def test_the_log_is_bounded_and_keeps_the_newest(tmp_path):
    log = FlagLog(tmp_path / "flags", max_flags=10)
    for i in range(30):
        log.append(encode, [f"f{i}"])
    kept = log.read(1, 100)
    assert 10 <= len(kept) <= 11 and kept[-1] == b"30:f29"  # trimmed once past 10 + 10%
    log.close()
    reopened = FlagLog(tmp_path / "flags", max_flags=10)
    assert reopened.first_sequence == int(kept[0].split(b":")[0]) and reopened.last_sequence == 30


def test_held_senders_persist_until_released(tmp_path):
    log = FlagLog(tmp_path / "flags")
    log.hold({b"s1", b"s2"})
    log.close()
    log = FlagLog(tmp_path / "flags")
    assert log.held == {b"s1", b"s2"}
    assert log.release(b"s1") and not log.release(b"s1")
    assert log.held == {b"s2"}
