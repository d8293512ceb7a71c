"""The console in a real browser: Playwright drives Debian's chromium (Playwright's own
browser download cannot work on these machines, so the executable is given). A signed
callback is followed from Deliveries to the job it resumed; a signal, a cancel and a retry
are clicked; a source is paused; read-only and missing credentials are refused."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from aiohttp import web

from ingest.console import ConsoleAccess
from waitpoint import Workflow

from ..conftest import wait_for_state, wait_until
from ..waitpoint.workers import ApprovalWorker, Complete, Voter
from .console_stack import deliver, signed

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
async def browser():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        await launched.close()


async def open_page(browser, console, **context_options):
    context = await browser.new_context(viewport={"width": 1280, "height": 900},
                                        **context_options)
    page = await context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the "are you sure?" confirmations
    return page, str(console.make_url("")).rstrip("/")


async def text_of(page, selector: str) -> str:
    return (await page.locator(selector).inner_text()).strip()


async def test_a_callback_is_followed_from_deliveries_to_the_job_it_resumed(stack, browser):
    wp, receiver, console = await stack()
    page, base = await open_page(browser, console)
    job = await ApprovalWorker.enqueue({"user_id": 5, "wait_timeout": 0})
    await wait_for_state(wp, job.id, "scheduled")
    await page.goto(f"{base}/deliveries")
    assert "No deliveries match" in await page.content()
    answer = await deliver(receiver, f"/callbacks/partner/{job.id}", {"decision": "approved"})
    event = answer["event_id"]

    # The first page follows new deliveries by itself (htmx, every 5 s): no reload.
    await page.wait_for_selector(f'#deliveries a[href="/deliveries/{event}"]', timeout=15_000)
    await page.click(f'#deliveries a[href="/deliveries/{event}"]')
    await page.wait_for_url(f"**/deliveries/{event}")
    assert "approved" in await text_of(page, "#body")
    await page.click("#dry-run")
    await page.wait_for_selector("#dry-run-panel")
    assert "decision" in await text_of(page, "#dry-run-panel")
    await page.click(f"#signals a.reached-job[href='/jobs/{job.id}']")
    await page.wait_for_url(f"**/jobs/{job.id}")
    await wait_for_state(wp, job.id, "completed")
    await page.reload()
    assert await text_of(page, "#job-state") == "completed"
    assert f"delivery #{event}" in await text_of(page, "#job-signals")


async def test_a_signal_sent_from_the_console_completes_the_waiting_job(stack, browser):
    wp, _, console = await stack()
    page, base = await open_page(browser, console)
    job = await ApprovalWorker.enqueue({"user_id": 9, "wait_timeout": 0})
    await wait_for_state(wp, job.id, "scheduled")
    await page.goto(f"{base}/waiting")
    await page.click(f'#waiting-jobs a[href="/jobs/{job.id}"]')
    assert "a signal to this job" in await text_of(page, "#waits-for")
    await page.fill("#signal-form textarea", '{"decision": "approved"}')
    await page.click("#send-signal")
    await page.wait_for_selector(".message")
    assert "signal sent" in await text_of(page, ".message")
    done = await wait_for_state(wp, job.id, "completed")
    assert done.recorded == {"charged": 9}
    await page.reload()
    assert await text_of(page, "#job-state") == "completed"


async def test_cancel_then_retry_from_the_job_page(stack, browser):
    wp, _, console = await stack()
    page, base = await open_page(browser, console)
    job = await Complete.enqueue({}, schedule_in=3600)
    await page.goto(f"{base}/jobs/{job.id}")
    await page.click("#cancel")  # confirms through the dialog
    await page.wait_for_selector(".message")
    assert await text_of(page, "#job-state") == "cancelled"
    assert (await wp.get_job(job.id)).state == "cancelled"
    await page.click("#retry")
    await page.wait_for_selector(".message")
    await wait_for_state(wp, job.id, "completed")  # available again, and then it ran


async def test_pausing_a_source_makes_the_receiver_answer_503(stack, browser):
    _, receiver, console = await stack()
    page, base = await open_page(browser, console)
    await page.goto(f"{base}/sources")
    await page.click("#pause-orders")
    await page.wait_for_selector("#resume-orders")
    raw, headers = signed({"order": 1})

    async def refused():
        return (await receiver.post("/orders", data=raw, headers=headers)).status == 503

    await wait_until(refused, timeout=10)
    await page.click("#resume-orders")
    await page.wait_for_selector("#pause-orders")

    async def accepted():
        return (await receiver.post("/orders", data=raw, headers=headers)).status == 200

    await wait_until(accepted, timeout=10)


async def test_credentials_read_only_and_csrf_are_enforced_in_the_browser(stack, browser):
    wp, _, console = await stack(ConsoleAccess(host="0.0.0.0", password="s3cret",
                                               read_only_password="look"))
    job = await Complete.enqueue({}, schedule_in=3600)
    anonymous, base = await open_page(browser, console)
    # (A headless browser turns the 401's password prompt into a navigation error.)
    response = await anonymous.request.get(f"{base}/jobs/{job.id}")
    assert response.status == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    looker, _ = await open_page(browser, console,
                                http_credentials={"username": "ann", "password": "look"})
    response = await looker.goto(f"{base}/jobs/{job.id}")
    assert response.status == 200
    assert await looker.locator("#cancel").count() == 0
    token = json.loads(await looker.get_attribute("body", "hx-headers"))["X-CSRF-Token"]
    refused = await looker.request.post(f"{base}/jobs/{job.id}/cancel", form={"csrf": token})
    assert refused.status == 403
    operator, _ = await open_page(browser, console,
                                  http_credentials={"username": "ops", "password": "s3cret"})
    await operator.goto(f"{base}/jobs/{job.id}")
    forged = await operator.request.post(f"{base}/jobs/{job.id}/cancel", form={"x": "1"})
    assert forged.status == 403
    assert (await wp.get_job(job.id)).state == "scheduled"
    await operator.click("#cancel")
    await operator.wait_for_selector(".message")
    assert (await wp.get_job(job.id)).state == "cancelled"


async def test_a_read_only_token_fails_for_the_full_operator_of_the_same_name(
        stack, browser, aiohttp_server):
    """The read-only "admin" copies the token every page carries into a page of another
    origin; the full operator "admin" opens it in the same browser (credentials cached):
    the forged pause of a source is refused, because the token is bound to the credential."""
    wp, _, console = await stack(ConsoleAccess(host="0.0.0.0", password="s3cret",
                                               read_only_password="look"))
    looker, base = await open_page(browser, console,
                                   http_credentials={"username": "admin", "password": "look"})
    await looker.goto(f"{base}/sources")
    token = json.loads(await looker.get_attribute("body", "hx-headers"))["X-CSRF-Token"]

    async def attack(_request: web.Request) -> web.Response:
        return web.Response(content_type="text/html", text=(
            f'<form id="f" method="post" action="{base}/sources/orders/pause">'
            f'<input name="csrf" value="{token}"></form>'
            '<script>document.getElementById("f").submit()</script>'))

    evil = web.Application()
    evil.router.add_get("/", attack)
    attacker = await aiohttp_server(evil)
    operator, _ = await open_page(browser, console,
                                  http_credentials={"username": "admin", "password": "s3cret"})
    await operator.goto(f"{base}/sources")  # the full operator is signed in
    async with operator.expect_response(lambda r: r.url.endswith("/sources/orders/pause")
                                        ) as answered:
        await operator.goto(str(attacker.make_url("/")))
    assert (await answered.value).status == 403
    paused = await wp.pool.fetchval(f"SELECT count(*) FROM {wp.schema}.source_pauses")
    assert paused == 0


async def test_the_workflow_graph_expands_and_signals_a_step(stack, browser):
    wp, _, console = await stack()
    page, base = await open_page(browser, console)
    checks = Workflow().add("lint", Voter.new({"wait_timeout": 0}))
    workflow = (Workflow(name="release").add("approve", Voter.new({"wait_timeout": 0}))
                .add_workflow("checks", checks)
                .add("ship", Complete.new({}), deps=["approve", "checks"]))
    jobs = await wp.enqueue_many(workflow)
    by_step = {job.step: job for job in jobs}
    await wait_for_state(wp, by_step["approve"].id, "suspended")
    await page.goto(f"{base}/workflows")
    await page.click(f'#workflows a[href="/workflows/{by_step["approve"].workflow_id}"]')
    approve = page.locator(f"#node-step-{by_step['approve'].id}")
    ship = page.locator(f"#node-step-{by_step['ship'].id}")
    assert (await approve.bounding_box())["x"] < (await ship.bounding_box())["x"]
    # The sub-workflow opens in place, its step linked to its job.
    await page.click("details > summary")
    lint = page.locator(f"#node-step-{by_step['lint'].id} a")
    await lint.wait_for()
    assert await lint.get_attribute("href") == f"/jobs/{by_step['lint'].id}"
    for step in ("approve", "checks/lint"):
        await page.select_option("select[name=step]", step)
        await page.fill("form[action$='/signal'] textarea", '"go"')
        await page.click("#signal-step")
        await page.wait_for_selector(".message")
        assert "1 job(s) reached" in await text_of(page, ".message")
    await wait_for_state(wp, by_step["ship"].id, "completed")


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_pages_fit_a_narrow_window_in_both_themes(stack, browser, scheme):
    _, receiver, console = await stack()
    await deliver(receiver, "/orders", {"order": 3})
    context = await browser.new_context(viewport={"width": 390, "height": 800},
                                        color_scheme=scheme)
    page = await context.new_page()
    base = str(console.make_url("")).rstrip("/")
    for path in ("/", "/deliveries", "/jobs", "/waiting", "/workflows", "/sources"):
        await page.goto(base + path)
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways at 390 px"
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    dark = background == "rgb(17, 20, 24)"
    assert dark == (scheme == "dark")
