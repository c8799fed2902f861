"""Finding the raw files and counting their lines the way Spark's text reader does."""

from __future__ import annotations

from pathlib import Path

import pytest

from lastfm_lakehouse import settings
from lastfm_lakehouse.data import raw_files
from lastfm_lakehouse.data.raw_files import RawDataError, count_lines, resolve


def write_both(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in settings.RAW_FILES:
        (directory / name).write_text("x\n", encoding="utf-8")
    return directory


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throw-away repo root, so resolution never looks at the real data/ folder."""
    monkeypatch.setattr(raw_files, "default_raw_dir", lambda: tmp_path / "data" / "raw")
    monkeypatch.setattr(raw_files, "generated_raw_dir", lambda: tmp_path / "data" / "generated")
    monkeypatch.delenv(settings.ENV_RAW_DIR, raising=False)
    return tmp_path


def test_env_var_wins(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_both(repo / "data" / "raw")
    elsewhere = write_both(repo / "elsewhere")
    monkeypatch.setenv(settings.ENV_RAW_DIR, str(elsewhere))
    assert resolve().directory == elsewhere


def test_env_var_pointing_at_incomplete_dir_names_the_missing_file(repo: Path, monkeypatch) -> None:
    (repo / "half").mkdir()
    (repo / "half" / settings.PLAYS_FILE).write_text("", encoding="utf-8")
    monkeypatch.setenv(settings.ENV_RAW_DIR, str(repo / "half"))
    with pytest.raises(RawDataError, match=settings.PROFILES_FILE):
        resolve()


def test_real_files_take_precedence_over_generated(repo: Path) -> None:
    write_both(repo / "data" / "generated")
    assert resolve().origin.startswith("generated")
    real = write_both(repo / "data" / "raw")
    found = resolve()
    assert found.directory == real and found.origin == "real files in data/raw"


def test_one_real_file_is_an_error_not_a_silent_fallback(repo: Path) -> None:
    write_both(repo / "data" / "generated")
    (repo / "data" / "raw").mkdir(parents=True)
    (repo / "data" / "raw" / settings.PLAYS_FILE).write_text("", encoding="utf-8")
    with pytest.raises(RawDataError, match="only one of the two raw files"):
        resolve()


def test_nothing_found_says_how_to_fix(repo: Path) -> None:
    with pytest.raises(RawDataError, match=r"lastfm_lakehouse\.data\.generate"):
        resolve()


@pytest.mark.parametrize(
    ("content", "lines"),
    [
        (b"", 0),
        (b"a", 1),
        (b"a\n", 1),
        (b"a\nb", 2),
        (b"a\r\nb\r\n", 2),
        (b"a\r\n\r\nb", 3),
        (b"a\rb\r", 2),
    ],
)
def test_count_lines(tmp_path: Path, content: bytes, lines: int) -> None:
    path = tmp_path / "f.tsv"
    path.write_bytes(content)
    assert count_lines(path) == lines
