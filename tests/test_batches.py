"""The batch contract and the batch generator, without a JVM."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from lastfm_lakehouse import batches
from lastfm_lakehouse.data import generate, generate_batch
from lastfm_lakehouse.settings import FORGET_FILE, PLAYS_FILE, PROFILES_FILE

DAY = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    generate.generate(out, users=500, seed=3, progress=False)
    return out


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def test_a_batch_follows_the_contract_and_says_what_it_holds(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "raw"
    out.mkdir()
    for name in (PLAYS_FILE, PROFILES_FILE):
        (out / name).symlink_to(dataset / name)
    made = generate_batch.write_batch(out, day=DAY, share=0.02, seed=3, progress=False)
    folder = out / "batches" / "2026-12-01"
    found = batches.find(out)
    assert [(f.batch, f.name) for f in found] == [
        (DAY, n) for n in sorted((FORGET_FILE, PLAYS_FILE, PROFILES_FILE))
    ]
    assert found[0].source_file == "batches/2026-12-01/forget.tsv"

    plays = lines(folder / PLAYS_FILE)
    profiles = lines(folder / PROFILES_FILE)
    forget = lines(folder / FORGET_FILE)
    assert (
        len(plays)
        == made.play_lines
        == made.more_plays_lines + made.new_pair_lines + made.new_user_lines + 1 + 3
    )
    assert made.new_users == 10 and len(profiles) == made.profile_lines
    known = {line.split("\t")[0] for line in lines(dataset / PROFILES_FILE)}
    new_profiles = [p.split("\t") for p in profiles if p.split("\t")[0] not in known]
    assert len([p for p in new_profiles if len(p) == 5]) == made.new_users
    assert all(p[4] == "Dec 1, 2026" for p in new_profiles if len(p) == 5)
    changed = [p for p in profiles if p.split("\t")[0] in known]
    assert len(changed) == made.changed_profiles >= 1
    # a forgotten listener is a known one (the first in upper case: the build lower-cases it)
    assert {f.lower() for f in forget[:-1]} <= known and forget[0] == forget[0].upper()
    assert forget[-1] == "not a sha1" and made.rejected_lines == 6
    # more plays for a known (user, artist) line: its user, MBID and name as in the dataset
    original = {tuple(line.split("\t")[:3]) for line in lines(dataset / PLAYS_FILE)}
    assert sum(tuple(p.split("\t")[:3]) in original for p in plays) >= made.more_plays_lines
    assert json.loads((folder / generate_batch.MANIFEST).read_text())["play_lines"] == len(plays)

    again = tmp_path / "again"
    again.mkdir()
    for name in (PLAYS_FILE, PROFILES_FILE):
        (again / name).symlink_to(dataset / name)
    generate_batch.write_batch(again, day=DAY, share=0.02, seed=3, progress=False)
    for name in (PLAYS_FILE, PROFILES_FILE, FORGET_FILE):
        assert (again / "batches" / "2026-12-01" / name).read_bytes() == (folder / name).read_bytes()
    assert generate_batch.next_batch_date(out) == DAY + dt.timedelta(days=1)
    with pytest.raises(ValueError, match="already exists"):
        generate_batch.write_batch(out, day=DAY, progress=False)


def test_files_outside_the_contract_are_named(tmp_path: Path) -> None:
    assert batches.find(tmp_path) == []
    root = tmp_path / "batches"
    (root / "2026-12-01").mkdir(parents=True)
    (root / "2026-12-01" / "_BATCH.json").write_text("{}")
    (root / "2026-12-01" / "._SUCCESS.crc").write_text("")
    assert batches.find(tmp_path) == []
    (root / "2026-12-01" / "plays.tsv").write_text("x\n")
    with pytest.raises(ValueError, match=r"2026-12-01/plays\.tsv: not a batch file"):
        batches.find(tmp_path)
    (root / "2026-12-01" / "plays.tsv").unlink()
    (root / "yesterday").mkdir()
    with pytest.raises(ValueError, match="yesterday: a batch folder is named for its day, YYYY-MM-DD"):
        batches.find(tmp_path)
    (root / "yesterday").rmdir()
    (root / "2026-02-30").mkdir()
    with pytest.raises(ValueError, match="2026-02-30: a batch folder is named for its day"):
        batches.find(tmp_path)


def test_a_new_dataset_drops_the_generated_batches_of_the_old(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "raw"
    generate.generate(out, users=50, seed=1, progress=False)
    generate_batch.write_batch(out, day=DAY, progress=False)
    kept = out / "batches" / "2026-11-30"  # not written by the generator: left alone
    kept.mkdir()
    generate.generate(out, users=60, seed=2, progress=False)
    assert sorted(p.name for p in (out / "batches").iterdir()) == ["2026-11-30"]


def test_main_writes_a_batch(dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "raw"
    generate.generate(out, users=50, seed=1, progress=False)
    assert generate.main(["--batch", "--out", str(out), "--batch-date", "2026-12-05", "--quiet"]) == 0
    assert "batch 2026-12-05:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        generate.main(["--batch", "--out", str(out), "--batch-share", "2"])
    assert "--batch-share must be in (0, 0.5]" in capsys.readouterr().err


def test_a_rewritten_file_gets_a_new_fingerprint(tmp_path: Path) -> None:
    """What an incremental build compares to parse a file again (size, modification time)."""
    path = tmp_path / PLAYS_FILE
    path.write_text("a\tb\tc\t1\n", encoding="utf-8")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    first = batches.fingerprint(path)
    assert first == f"{path.stat().st_size}:1000000000" == batches.fingerprint(path)
    path.write_text("a\tb\tc\t2\n", encoding="utf-8")  # same size, written again
    assert batches.fingerprint(path) != first
    row = batches.BatchFile(DAY, PLAYS_FILE, path).as_row()
    assert row["fingerprint"] == batches.fingerprint(path)
