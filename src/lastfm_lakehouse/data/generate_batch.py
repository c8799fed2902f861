"""One day of new data for a dataset: ``<dir>/batches/<YYYY-MM-DD>/`` in the batch contract.

    python -m lastfm_lakehouse.data.generate --batch --out data/generated [--batch-date 2026-12-08]

Works on any pair of files in the original format (generated or real): everything new is drawn
from what the files hold, so a batch looks like the data it extends.

* ``usersha1-artmbid-artname-plays.tsv``: plays added since the previous batch. New listeners (a
  ``share`` of the users) each take the artists of an existing listener with fresh counts; existing
  listeners get more plays for artists they already have (the same artist column, the count is an
  increment) and a few artists new to them.
* ``usersha1-profile.tsv``: the new listeners' profiles, and changed profiles of some existing
  listeners (a new country, or a year older).
* ``forget.tsv``: a few existing listeners asking to be forgotten.
* A few damaged lines in each, as real feeds have: a blank line, a wrong field count, a negative
  count, a duplicate line, a profile a field short, a forget line that is no sha1 (rejected), and
  upper-case sha1s (repaired).

Everything is a function of the seed and the batch's day: the same call gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lastfm_lakehouse.batches import BATCH_NAME, batches_dir
from lastfm_lakehouse.data.generate import sha1_hex
from lastfm_lakehouse.settings import FORGET_FILE, PLAYS_FILE, PROFILES_FILE

MANIFEST = "_BATCH.json"  # beside the batch files; names starting with "_" are not batch files
NEW_USER_MAX_LINES = 20  # a new listener's first day: at most this many artists
LINES_PER_RETURNING_USER = 5
NEW_PAIR_SHARE = 0.3  # of the returning listeners' lines, artists new to them
PROFILE_CHANGE_SHARE = 0.1  # of the new listeners' count, existing profiles that change
FORGET_SHARE = 0.005  # of the new listeners' count, listeners asking to be forgotten


@dataclass
class BatchManifest:
    batch: str
    seed: int
    share: float
    new_users: int = 0
    returning_users: int = 0
    play_lines: int = 0
    more_plays_lines: int = 0
    new_pair_lines: int = 0
    new_user_lines: int = 0
    profile_lines: int = 0
    changed_profiles: int = 0
    forgotten: int = 0
    rejected_lines: int = 0  # damaged lines the build must reject
    seconds: float = 0.0


def next_batch_date(out: Path, today: dt.date | None = None) -> dt.date:
    """The day after the newest batch in ``out``, else today."""
    root = batches_dir(out)
    days = sorted(p.name for p in root.iterdir() if BATCH_NAME.match(p.name)) if root.is_dir() else []
    if days:
        return dt.date.fromisoformat(days[-1]) + dt.timedelta(days=1)
    return today or dt.date.today()


def remove_generated_batches(out: Path) -> int:
    """Drop the batches this module wrote into ``out`` (a new dataset there makes them meaningless)."""
    root = batches_dir(out)
    removed = 0
    if root.is_dir():
        for folder in root.iterdir():
            if (folder / MANIFEST).is_file():
                shutil.rmtree(folder)
                removed += 1
    return removed


def _profiles(path: Path) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        for line in handle:
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) == 5 and len(fields[0]) == 40:
                rows.setdefault(fields[0].lower(), fields)
    return rows


def _lines_of(path: Path, users: set[str]) -> dict[str, list[list[str]]]:
    """The plays lines (split) of ``users``: one pass over the file, keyed by the line's first 40 chars."""
    found: dict[str, list[list[str]]] = defaultdict(list)
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        for line in handle:
            if line[:40] in users:
                fields = line.rstrip("\r\n").split("\t")
                if len(fields) == 4:
                    found[line[:40]].append(fields)
    return found


def write_batch(
    out: Path, day: dt.date | None = None, share: float = 0.01, seed: int = 360, progress: bool = True
) -> BatchManifest:
    """Write ``out/batches/<day>/`` from the two files in ``out``; return what was written."""
    if not 0 < share <= 0.5:
        raise ValueError(f"--batch-share must be in (0, 0.5], got {share}")
    plays_path, profiles_path = out / PLAYS_FILE, out / PROFILES_FILE
    for path in (plays_path, profiles_path):
        if not path.is_file():
            raise ValueError(f"{path} not found: --batch adds a day of data to the two files in --out")
    day = day or next_batch_date(out)
    folder = batches_dir(out) / day.isoformat()
    if folder.exists():
        raise ValueError(f"{folder} already exists: a batch is written once (pick another --batch-date)")
    started = time.perf_counter()
    rng = np.random.default_rng([seed, day.toordinal()])
    manifest = BatchManifest(batch=day.isoformat(), seed=seed, share=share)

    profiles = _profiles(profiles_path)
    known = sorted(profiles)
    if len(known) < 4:
        raise ValueError(f"{profiles_path} holds {len(known)} readable profiles: a batch needs at least 4")
    new_users = max(1, round(share * len(known)))
    with plays_path.open("rb") as handle:
        plays_lines = sum(1 for _ in handle)
    # about share x the dataset's lines in all: the new listeners' (up to NEW_USER_MAX_LINES each),
    # then more plays and new artists for returning listeners
    budget = max(LINES_PER_RETURNING_USER, round(share * plays_lines) - new_users * NEW_USER_MAX_LINES)
    returning = min(len(known), max(1, budget // LINES_PER_RETURNING_USER))
    picked = rng.choice(len(known), size=min(len(known), returning + new_users), replace=False)
    returning_users = [known[i] for i in picked[:returning]]
    donors = [known[i] for i in rng.choice(len(known), size=new_users, replace=True)]
    wanted = set(returning_users) | set(donors)
    if progress:
        print(f"batch {day}: reading {plays_path.name} for {len(wanted):,} listeners", file=sys.stderr)
    lines = _lines_of(plays_path, wanted)
    pool = [fields[1:3] for user in donors for fields in lines.get(user, [])] or [["", "unknown artist"]]

    plays = _returning_lines(rng, returning_users, lines, pool, manifest)
    new_shas = [sha1_hex(f"lastfm-batch:{seed}:{day.isoformat()}:{i}") for i in range(new_users)]
    new_plays, new_profiles = _new_listeners(rng, new_shas, donors, lines, pool, profiles, day, manifest)
    plays += new_plays
    new_profiles += _changed_profiles(rng, known, profiles, round(new_users * PROFILE_CHANGE_SHARE), manifest)
    forget_count = max(1, round(new_users * FORGET_SHARE))
    forgotten = [known[i] for i in rng.choice(len(known), size=forget_count, replace=False)]
    manifest.forgotten = len(forgotten)
    forget_lines = _damage(rng, plays, new_profiles, forgotten, returning_users[0], new_shas[0], manifest)

    folder.mkdir(parents=True)
    _write(folder / PLAYS_FILE, plays)
    _write(folder / PROFILES_FILE, new_profiles)
    _write(folder / FORGET_FILE, forget_lines)
    manifest.play_lines = len(plays)
    manifest.profile_lines = len(new_profiles)
    manifest.seconds = round(time.perf_counter() - started, 2)
    (folder / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n", encoding="utf-8")
    return manifest


def _returning_lines(
    rng: np.random.Generator,
    users: list[str],
    lines: dict[str, list[list[str]]],
    pool: list[list[str]],
    manifest: BatchManifest,
) -> list[str]:
    """Returning listeners' lines: more plays for artists they have, and a few artists new to them."""
    plays: list[str] = []
    for user in users:
        own = lines.get(user, [])
        more = min(len(own), int(rng.binomial(LINES_PER_RETURNING_USER, 1 - NEW_PAIR_SHARE)))
        for fields in (own[i] for i in rng.choice(len(own), size=more, replace=False)) if more else ():
            plays.append(f"{user}\t{fields[1]}\t{fields[2]}\t{_added_plays(rng)}")
        manifest.more_plays_lines += more
        for _ in range(LINES_PER_RETURNING_USER - more):
            mbid, name = pool[int(rng.integers(len(pool)))]
            plays.append(f"{user}\t{mbid}\t{name}\t{_added_plays(rng)}")
            manifest.new_pair_lines += 1
    manifest.returning_users = len(users)
    return plays


def _new_listeners(
    rng: np.random.Generator,
    shas: list[str],
    donors: list[str],
    lines: dict[str, list[list[str]]],
    pool: list[list[str]],
    profiles: dict[str, list[str]],
    day: dt.date,
    manifest: BatchManifest,
) -> tuple[list[str], list[str]]:
    """New listeners' plays and profiles: each takes a donor's artists (fresh counts) and profile."""
    plays: list[str] = []
    new_profiles: list[str] = []
    for sha, donor in zip(shas, donors, strict=True):
        taken = lines.get(donor, [])[:NEW_USER_MAX_LINES] or [["", "", pool[0][1], "1"]]
        for fields in taken:
            plays.append(f"{sha}\t{fields[1]}\t{fields[2]}\t{_added_plays(rng)}")
            manifest.new_user_lines += 1
        profile = profiles[donor]
        new_profiles.append("\t".join([sha, profile[1], profile[2], profile[3], _signup(day)]))
    manifest.new_users = len(shas)
    return plays, new_profiles


def _changed_profiles(
    rng: np.random.Generator,
    known: list[str],
    profiles: dict[str, list[str]],
    count: int,
    manifest: BatchManifest,
) -> list[str]:
    """Existing profiles changed: mostly a new country, else a year older."""
    changed = [known[i] for i in rng.choice(len(known), size=max(1, count))]
    countries = sorted({row[3] for row in profiles.values() if row[3]}) or ["United States"]
    out: list[str] = []
    for user in dict.fromkeys(changed):
        row = list(profiles[user])
        if rng.random() < 0.7 or not row[2].strip().isdigit():
            others = [c for c in countries if c != row[3]] or countries
            row[3] = others[int(rng.integers(len(others)))]
        else:
            row[2] = str(int(row[2]) + 1)
        out.append("\t".join(row))
        manifest.changed_profiles += 1
    return out


def _damage(
    rng: np.random.Generator,
    plays: list[str],
    profiles: list[str],
    forgotten: list[str],
    user: str,
    new_sha: str,
    manifest: BatchManifest,
) -> list[str]:
    """Damage the lines as a real feed does (in place), and return the forget file's lines.

    The build repairs an upper-case sha1 and rejects the rest, counting each: a blank line, a wrong
    field count, a negative count, a duplicate line, a profile a field short, a forget line that is
    no sha1.
    """
    first = plays[0].split("\t")
    plays[0] = "\t".join([first[0].upper(), *first[1:]])
    rejected = 0
    if len(plays) > 1:
        plays.insert(int(rng.integers(len(plays))), plays[int(rng.integers(1, len(plays)))])
        rejected += 1
    plays += ["", f"{user}\tno plays column", f"{user}\t\tsomeone\t-5"]
    profiles.append(f"{new_sha}\tm\t30\tGermany")
    manifest.rejected_lines = rejected + 3 + 1 + 1
    return [forgotten[0].upper(), *forgotten[1:], "not a sha1"]


def _added_plays(rng: np.random.Generator) -> int:
    """Plays in a day for one listener and artist: mostly a handful, sometimes an album's worth."""
    return int(rng.geometric(0.08))


def _signup(day: dt.date) -> str:
    return f"{day.strftime('%b')} {day.day}, {day.year}"


def _write(path: Path, lines: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("".join(f"{line}\n" for line in lines))
