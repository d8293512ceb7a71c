"""Make docs/console.png: the example config and workers on a schema of their own, a few
approvals delivered (and a few refused), then the console's overview in Debian's chromium.

    ./scripts/console-screenshot [--out docs/console.png] [--path /] [--dark]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
from pathlib import Path

import aiohttp
from aiohttp import web
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import routing  # noqa: E402
from examples.approvals import ApprovalWorker  # noqa: E402
from ingest.app import create_app  # noqa: E402
from ingest.console import ConsoleAccess, create_console_app  # noqa: E402
from ingest.receiver_sql import RECEIVER_TRACKS  # noqa: E402
from waitpoint import Waitpoint, Workflow, resolve_database_url  # noqa: E402
from waitpoint.cli import migrate_database  # noqa: E402

SCHEMA = "console_screenshot"


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def main(out: Path, path: str, dark: bool) -> None:
    url = resolve_database_url(None)
    import asyncpg

    conn = await asyncpg.connect(url)
    await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    await conn.close()
    await migrate_database(url, SCHEMA, RECEIVER_TRACKS)
    config = routing.load_config(ROOT / "config" / "example.yaml")
    async with Waitpoint(url, schema=SCHEMA, queues={"approvals": 5, "default": 5},
                         metrics_interval=1.0) as wp:  # a fresh depth sample in the picture
        receiver, receiver_url = await serve(create_app(config, wp))
        console, console_url = await serve(create_console_app(
            config, wp, ConsoleAccess(host="127.0.0.1")))
        jobs = [await ApprovalWorker.enqueue({"user_id": n}) for n in range(1, 13)]
        await wp.enqueue_many(Workflow(name="onboarding")
                              .add("review", ApprovalWorker.new({"user_id": 99})))
        async with aiohttp.ClientSession() as http:
            for job in jobs[:8]:
                decision = "approved" if job.id % 3 else "declined"
                await http.post(f"{receiver_url}/demo/approvals/{job.id}",
                                data=json.dumps({"decision": decision}),
                                headers={"content-type": "application/json"})
            for _ in range(3):  # a forged Stripe callback is refused, and counted
                await http.post(f"{receiver_url}/webhooks/stripe", data=b"{}",
                                headers={"stripe-signature": "t=1,v1=00"})
            await http.post(f"{receiver_url}/demo/approvals/1", data=b"not json",
                            headers={"content-type": "application/json"})
        await asyncio.sleep(6)  # the receiver adds its counts every 5 s
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium")
            page = await browser.new_page(viewport={"width": 1280, "height": 860},
                                          color_scheme="dark" if dark else "light")
            await page.goto(console_url + path)
            await page.screenshot(path=str(out), full_page=False)
            await browser.close()
        await console.cleanup()
        await receiver.cleanup()
    print(f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "console.png")
    parser.add_argument("--path", default="/")
    parser.add_argument("--dark", action="store_true")
    options = parser.parse_args()
    asyncio.run(main(options.out, options.path, options.dark))
