"""Every environment variable the settings read is documented in .env.example."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_every_variable_the_settings_read():
    source = (ROOT / "helpdesk" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.[a-z_]+|\(\)\.[a-z_]+)\(\s*"([A-Z][A-Z0-9_]*)"', source))
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M)
    )
    assert read, "no env reads found: the pattern no longer matches settings.py"
    assert read - documented == set()
