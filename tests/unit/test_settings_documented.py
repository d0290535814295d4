"""Every setting the service reads from the environment is documented for the people who run it."""

from __future__ import annotations

from pathlib import Path

from runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_the_readme_tables():
    readme = (ROOT / "README.md").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in readme]
    assert not missing, f"settings not in README.md's configuration tables: {missing}"
