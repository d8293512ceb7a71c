"""examples/shop: the README's complete test, run as its own project, so the README
cannot drift from what works; and `waitpoint record`, which made its recording."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop"


def _readme_blocks(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_the_readme_shows_the_example_project_as_it_is():
    python_blocks = _readme_blocks("python")
    for file in ("tests/test_payments.py", "shop/workers.py"):
        assert (SHOP / file).read_text() in python_blocks, file
    assert (SHOP / "config" / "routes.yaml").read_text() in _readme_blocks("yaml")


def test_record_signs_a_body_for_a_source(tmp_path):
    out = tmp_path / "paid.json"
    result = subprocess.run(
        [sys.executable, "-m", "waitpoint", "record", "--config", "config/routes.yaml",
         "--source", "stripe", "--body", "tests/recordings/payment_succeeded.body.json",
         "--out", str(out)],
        cwd=SHOP, capture_output=True, text=True, timeout=60,
        env={**os.environ, "STRIPE_WEBHOOK_SECRET": "whsec_test_secret"})
    assert result.returncode == 0, result.stderr
    recording = json.loads(out.read_text())
    assert recording["expect"] == {"status": 200, "outcome": "routed"}
    assert recording["headers"]["stripe-signature"].startswith("t=")
    unknown = subprocess.run(
        [sys.executable, "-m", "waitpoint", "record", "--config", "config/routes.yaml",
         "--source", "paypal", "--body", "tests/recordings/payment_succeeded.body.json"],
        cwd=SHOP, capture_output=True, text=True, timeout=60,
        env={**os.environ, "STRIPE_WEBHOOK_SECRET": "whsec_test_secret"})
    assert unknown.returncode == 2 and "no source 'paypal'; sources: stripe" in unknown.stderr


def test_the_example_project_passes_its_own_tests(database_url):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=SHOP,
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "DATABASE_URL": database_url})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_without_the_testing_plugins_the_fixtures_say_what_to_install(database_url):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio",
         "-p", "no:aiohttp", "-o", "asyncio_mode=strict"], cwd=SHOP,
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "DATABASE_URL": database_url})
    assert result.returncode != 0
    assert "pip install 'waitpoint[testing]'" in result.stdout + result.stderr
