"""The operator console over HTTP: a real receiver, a real console app and real jobs on
the test's schema. Who may do what, every page with data in it, the filters and keyset
pages, the actions and what they change. (The browser tests are test_console_browser.py.)"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
import structlog

import routing
from ingest.app import create_app
from ingest.console import ConsoleAccess, ConsoleRefused, create_console_app
from ingest.delivery_counts import DeliveryCounts
from ingest.receiver_sql import InboxQuery
from waitpoint import Workflow

from ..conftest import wait_for_state, wait_until
from ..proxy import PostgresProxy
from ..waitpoint.workers import ApprovalWorker, Complete, Voter
from .console_stack import CONFIG, csrf_of, deliver, signed

# --- who may do what ---------------------------------------------------------------------

def test_an_exposed_address_needs_a_password():
    with pytest.raises(ConsoleRefused, match="WAITPOINT_CONSOLE_PASSWORD"):
        ConsoleAccess(host="0.0.0.0")
    with pytest.raises(ConsoleRefused):
        ConsoleAccess.from_env(host="10.1.2.3", read_only=False, env={})
    assert ConsoleAccess(host="0.0.0.0", password="s3cret").needs_credentials
    assert not ConsoleAccess(host="::1").needs_credentials


async def test_with_a_password_every_request_needs_it(stack):
    _, _, console = await stack(ConsoleAccess(host="0.0.0.0", password="s3cret",
                                              read_only_password="look"))
    missing = await console.get("/")
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"].startswith("Basic")
    wrong = await console.get("/", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    basic = base64.b64encode(b"alice:s3cret").decode()
    ok = await console.get("/", headers={"Authorization": f"Basic {basic}"})
    assert ok.status == 200 and "alice" in await ok.text()
    assert (await console.get("/jobs", headers={"Authorization": "Bearer s3cret"})).status == 200


async def test_password_guesses_are_limited_per_client(stack):
    from ingest.console.access import GUESSES_PER_MINUTE

    _, _, console = await stack(ConsoleAccess(host="0.0.0.0", password="s3cret"))
    for guess in range(GUESSES_PER_MINUTE):
        wrong = await console.get("/", headers={"Authorization": f"Bearer guess{guess}"})
        assert wrong.status == 401
    refused = await console.get("/", headers={"Authorization": "Bearer guess-again"})
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
    # Refused unheard: the right password does not help until the minute has passed.
    assert (await console.get("/", headers={"Authorization": "Bearer s3cret"})).status == 429


async def test_a_read_only_credential_sees_no_action_and_may_take_none(stack):
    _, _, console = await stack(ConsoleAccess(host="0.0.0.0", password="s3cret",
                                               read_only_password="look"))
    job = await Complete.enqueue({})
    looker = {"Authorization": "Bearer look"}
    page = await (await console.get(f"/jobs/{job.id}", headers=looker)).text()
    assert "read-only" in page and 'id="cancel"' not in page
    refused = await console.post(f"/jobs/{job.id}/cancel", headers=looker,
                                 data={"csrf": "whatever"})
    assert refused.status == 403


async def test_read_only_mode_refuses_actions_even_to_the_full_password(stack):
    _, _, console = await stack(ConsoleAccess(host="127.0.0.1", read_only=True))
    page = await (await console.get("/sources")).text()
    assert 'id="pause-partner"' not in page
    refused = await console.post("/sources/partner/pause", data={"csrf": "x"})
    assert refused.status == 403


async def test_an_action_without_the_csrf_token_is_refused(stack):
    wp, _, console = await stack()
    job = await Complete.enqueue({}, schedule_in=3600)
    assert (await console.post(f"/jobs/{job.id}/cancel")).status == 403
    assert (await console.post(f"/jobs/{job.id}/cancel", data={"csrf": "0" * 64})).status == 403
    assert (await wp.get_job(job.id)).state == "scheduled"
    token = csrf_of(await (await console.get(f"/jobs/{job.id}")).text())
    done = await console.post(f"/jobs/{job.id}/cancel", data={"csrf": token})
    assert done.status == 200 and "cancelled" in await done.text()
    assert (await wp.get_job(job.id)).state == "cancelled"


async def test_a_csrf_token_works_only_with_the_credential_it_was_given_to(stack):
    """A read-only operator sees a token on every page (hx-headers); one named like the
    full operator must not be able to hand it to a page the full operator opens."""
    wp, _, console = await stack(ConsoleAccess(host="0.0.0.0", password="s3cret",
                                               read_only_password="look"))
    job = await Complete.enqueue({}, schedule_in=3600)

    def basic(who: str, password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{who}:{password}".encode())
                .decode()}

    looker_page = await (await console.get("/", headers=basic("admin", "look"))).text()
    seen = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', looker_page)[1]
    forged = await console.post(f"/jobs/{job.id}/cancel", headers=basic("admin", "s3cret"),
                                data={"csrf": seen})
    assert forged.status == 403
    assert (await wp.get_job(job.id)).state == "scheduled"
    own = csrf_of(await (await console.get(f"/jobs/{job.id}",
                                           headers=basic("admin", "s3cret"))).text())
    assert own != seen
    done = await console.post(f"/jobs/{job.id}/cancel", headers=basic("admin", "s3cret"),
                              data={"csrf": own})
    assert done.status == 200 and (await wp.get_job(job.id)).state == "cancelled"


async def test_hostile_input_is_a_400_or_404_page_never_a_500(stack):
    """Found by fuzzing: digits that are not ASCII, ids past bigint, a span back past the
    year 1, a NUL in a text filter, an Authorization header that is not ASCII."""
    _, _, console = await stack(ConsoleAccess(host="127.0.0.1"))
    html = {"Accept": "text/html"}
    for path, status in [("/jobs/\u00b2", 404), ("/jobs/99999999999999999999", 404),
                         ("/deliveries/\u00b2", 404), ("/workflows/18446744073709551616", 404),
                         ("/jobs?before=\u00b2", 400), ("/jobs?before=99999999999999999999", 400),
                         ("/deliveries?before=-1", 400), ("/waiting?signals_before=x", 400),
                         ("/deliveries?since=1000000d", 400), ("/deliveries?until=99999999d", 400),
                         ("/deliveries?text=a%00b", 400), ("/jobs?worker=a%00b", 400),
                         ("/jobs?args=%00", 400), ("/deliveries?delivery_id=%00", 400),
                         ("/jobs?tag=x%00", 400), ("/jobs/bulk/cancel?queue=%00", 400)]:
        response = await console.get(path, headers=html)
        assert response.status == status, (path, response.status)
        text = await response.text()
        assert "<nav>" in text, path  # the console's own page
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
    password = await stack(ConsoleAccess(host="0.0.0.0", password="s3cret"))
    refused = await password[2].get("/", headers={"Authorization": "Basic \u00e9"})
    assert refused.status == 401


async def test_a_database_outage_is_a_503_page_and_one_log_line(start_waitpoint,
                                                                 aiohttp_client, database_url):
    """Not aiohttp's bare 500 and a multi-line traceback: the console's own page says the
    database is unavailable, and the log has one line for it."""
    proxy = PostgresProxy(database_url)
    await proxy.start()
    try:
        wp = await start_waitpoint(database_url=proxy.url, queues={}, peer=False)
        config = routing.parse_config(CONFIG, "console.yaml", {})
        console = await aiohttp_client(create_console_app(config, wp,
                                                          ConsoleAccess(host="127.0.0.1")))
        assert (await console.get("/jobs")).status == 200
        await proxy.cut()
        with structlog.testing.capture_logs() as logs:
            down = await console.get("/jobs", headers={"Accept": "text/html"})
        assert down.status == 503
        text = await down.text()
        assert "Database unavailable" in text and "<nav>" in text
        assert [entry["event"] for entry in logs] == ["console.database_unavailable"]
    finally:
        await proxy.cut()


async def test_an_open_console_answers_only_to_loopback_host_names(stack):
    _, _, console = await stack()
    rebound = await console.get("/", headers={"Host": "attacker.example:8081"})
    assert rebound.status == 421
    assert (await console.get("/", headers={"Host": "localhost:8081"})).status == 200


async def test_pages_keep_scripts_and_frames_to_the_console(stack):
    _, _, console = await stack()
    response = await console.get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    htmx = await console.get("/static/htmx.min.js")
    assert htmx.status == 200 and b"htmx" in await htmx.read()


async def test_an_action_writes_who_did_it_and_what_changed(stack):
    _, _, console = await stack(ConsoleAccess(host="0.0.0.0", password="s3cret"))
    job = await Complete.enqueue({}, schedule_in=3600)
    auth = {"Authorization": "Basic " + base64.b64encode(b"bob:s3cret").decode()}
    token = csrf_of(await (await console.get(f"/jobs/{job.id}", headers=auth)).text())
    with structlog.testing.capture_logs() as logs:
        await console.post(f"/jobs/{job.id}/cancel", headers=auth, data={"csrf": token})
    (entry,) = [e for e in logs if e["event"] == "console.action"]
    assert entry == {"event": "console.action", "log_level": "info", "who": "bob",
                     "action": "cancel", "job": job.id, "changed": True}


# --- deliveries --------------------------------------------------------------------------

async def test_a_delivery_links_to_the_job_it_resumed_and_back(stack):
    wp, receiver, console = await stack()
    job = await ApprovalWorker.enqueue({"user_id": 7, "wait_timeout": 0})
    await wait_for_state(wp, job.id, "scheduled")  # waiting, with a day's deadline
    answer = await deliver(receiver, f"/callbacks/partner/{job.id}", {"decision": "approved"})
    await wait_for_state(wp, job.id, "completed")
    listing = await (await console.get("/deliveries?source=partner")).text()
    assert f'href="/deliveries/{answer["event_id"]}"' in listing
    detail = await (await console.get(f"/deliveries/{answer['event_id']}")).text()
    assert f'href="/jobs/{job.id}"' in detail and "decision" in detail
    assert "redacted" in detail  # the signature header is stored redacted, and shown so
    job_page = await (await console.get(f"/jobs/{job.id}")).text()
    assert f'href="/deliveries/{answer["event_id"]}"' in job_page
    assert "&#34;approved&#34;" in job_page or '"approved"' in job_page


async def test_deliveries_filter_and_page_by_keyset(stack):
    _, receiver, console = await stack()
    ids = [(await deliver(receiver, "/orders", {"order": n, "note": f"n{n}"}))["event_id"]
           for n in range(60)]
    await deliver(receiver, "/callbacks/partner/999999", {"other": True})  # another source
    first = await (await console.get("/deliveries?source=orders")).text()
    shown = [int(i) for i in re.findall(r'href="/deliveries/(\d+)"', first)]
    assert shown == sorted(ids, reverse=True)[:50]
    older = re.search(r'href="\?([^"]*before=\d+)"', first)[1].replace("&amp;", "&")
    second = await (await console.get(f"/deliveries?{older}")).text()
    rest = [int(i) for i in re.findall(r'href="/deliveries/(\d+)"', second)]
    assert rest == sorted(ids, reverse=True)[50:]
    assert "no older deliveries" in second
    text = await (await console.get("/deliveries?text=%22n42%22")).text()
    assert re.findall(r'href="/deliveries/(\d+)"', text) == [str(ids[42])]
    bad = await console.get("/deliveries?outcome=nonsense")
    assert bad.status == 400


async def test_a_time_range_lists_only_the_events_received_in_it(stack, db, schema):
    _, receiver, console = await stack()
    ids = [(await deliver(receiver, "/orders", {"order": n}))["event_id"] for n in range(6)]
    for age, event in enumerate(reversed(ids)):  # one a day, the newest today
        await db.execute(f"UPDATE {schema}.events SET received_at = now() - "
                         f"make_interval(days => $1) WHERE id = $2", age, event)
    until = (datetime.now(UTC) - timedelta(days=2) + timedelta(hours=1)).isoformat()
    page = await (await console.get("/deliveries", params={"since": "4d",
                                                           "until": until})).text()
    listed = [int(i) for i in re.findall(r'href="/deliveries/(\d+)"', page)]
    assert listed == [ids[-3], ids[-4]]  # received two and three days ago
    bad = await console.get("/deliveries", params={"since": "yesterday"})
    assert bad.status == 400


async def test_a_delivery_is_found_by_its_id_without_its_source(stack):
    _, receiver, console = await stack()
    answer = await deliver(receiver, "/orders", {"order": 5})
    detail = await (await console.get(f"/deliveries/{answer['event_id']}")).text()
    delivery_id = re.search(r'<dd class="mono">([^<]+)</dd>', detail)[1]
    found = await (await console.get(f"/deliveries?delivery_id={delivery_id}")).text()
    assert re.findall(r'href="/deliveries/(\d+)"', found) == [str(answer["event_id"])]


async def test_dry_run_shows_what_the_current_config_does_and_changes_nothing(stack):
    _, receiver, console = await stack()
    answer = await deliver(receiver, "/orders", {"order": 12})
    before = await (await console.get(f"/deliveries/{answer['event_id']}")).text()
    dry = await (await console.get(f"/deliveries/{answer['event_id']}/dry-run")).text()
    assert "by-order" in dry and "order:12" in dry
    after = await (await console.get(f"/deliveries/{answer['event_id']}")).text()
    assert before.count("replayed") == after.count("replayed") == 0


async def test_routing_again_asks_before_signalling_twice(stack):
    wp, receiver, console = await stack()
    job = await Voter.enqueue({"wait_timeout": 0})
    await wait_for_state(wp, job.id, "suspended")
    answer = await deliver(receiver, f"/callbacks/partner/{job.id}", {"decision": "yes"})
    event = answer["event_id"]
    token = csrf_of(await (await console.get(f"/deliveries/{event}")).text())
    asked = await console.post(f"/deliveries/{event}/replay", data={"csrf": token})
    assert asked.status == 200 and 'id="force-replay"' in await asked.text()
    forced = await console.post(f"/deliveries/{event}/replay",
                                data={"csrf": token, "force": "yes"})
    assert "routed again" in await forced.text()
    detail = await (await console.get(f"/deliveries/{event}")).text()
    assert "replayed 1" in detail or "<dd>1" in detail


# --- overview, counts, sources ------------------------------------------------------------

async def test_the_overview_counts_outcomes_and_refusals_from_every_process(stack, db,
                                                                            schema):
    wp, receiver, console = await stack()
    await deliver(receiver, "/orders", {"order": 1})
    forged = await receiver.post("/orders", data=b'{"order": 2}',
                                 headers={"x-signature": "sha256=00"})
    assert forged.status == 401
    # Another receiver process's counts land in the same table.
    other = DeliveryCounts(wp.pool, InboxQuery(schema))
    other.outcome("orders", "duplicate")
    other.rejected("orders", "bad_signature")
    await other.flush()

    async def counted():
        page = await (await console.get("/overview/live")).text()
        return "bad_signature 2 / 2" in page and "1 / 1" in page

    await wait_until(counted, timeout=15)  # the receiver flushes every few seconds
    page = await (await console.get("/")).text()
    assert 'hx-get="/overview/live"' in page and "<svg" in page


async def test_a_paused_source_answers_503_and_stores_nothing_until_resumed(stack, db,
                                                                             schema):
    _, receiver, console = await stack()
    token = csrf_of(await (await console.get("/sources")).text())
    paused = await console.post("/sources/orders/pause", data={"csrf": token})
    assert "orders paused" in await paused.text()
    raw, headers = signed({"order": 77})

    async def refused():
        response = await receiver.post("/orders", data=raw, headers=headers)
        return response if response.status == 503 else None

    answer = await wait_until(refused, timeout=10)  # NOTIFY reaches the receiver
    assert answer.headers["Retry-After"] == "60"
    assert (await answer.json())["error"] == "paused"
    assert await db.fetchval(f"SELECT count(*) FROM {schema}.events") == 0
    other_source = await deliver(receiver, "/callbacks/partner/1", {"decision": "x"})
    assert other_source["outcome"] == "routed"
    page = await (await console.get("/sources")).text()
    assert "paused" in page and "by local" in page
    await console.post("/sources/orders/resume", data={"csrf": token})

    async def accepted():
        response = await receiver.post("/orders", data=raw, headers=headers)
        return response.status == 200

    await wait_until(accepted, timeout=10)


async def test_a_receiver_started_after_a_pause_refuses_at_once(stack, start_waitpoint,
                                                                 aiohttp_client, schema):
    wp, _, console = await stack()
    token = csrf_of(await (await console.get("/sources")).text())
    await console.post("/sources/orders/pause", data={"csrf": token})
    config = routing.parse_config(CONFIG, "console.yaml", {})
    late = await aiohttp_client(create_app(config, wp))  # reads the pauses as it starts
    raw, headers = signed({"order": 1})
    assert (await late.post("/orders", data=raw, headers=headers)).status == 503


# --- jobs, waiting, workflows -------------------------------------------------------------

async def test_a_signal_from_the_console_wakes_a_waiting_job(stack):
    wp, _, console = await stack()
    job = await ApprovalWorker.enqueue({"user_id": 3, "wait_timeout": 0})
    await wait_for_state(wp, job.id, "scheduled")
    waiting = await (await console.get("/waiting")).text()
    assert f'href="/jobs/{job.id}"' in waiting
    token = csrf_of(await (await console.get(f"/jobs/{job.id}")).text())
    bad = await console.post(f"/jobs/{job.id}/signal", data={"csrf": token, "payload": "{"})
    assert bad.status == 400 and "not JSON" in await bad.text()
    bad_name = await console.post(f"/jobs/{job.id}/signal",
                                  data={"csrf": token, "payload": "1", "name": "x" * 201})
    assert bad_name.status == 400
    sent = await console.post(f"/jobs/{job.id}/signal", data={
        "csrf": token, "payload": '{"decision": "approved"}'})
    assert "signal sent to job" in await sent.text()
    done = await wait_for_state(wp, job.id, "completed")
    assert done.recorded == {"charged": 3}


async def test_jobs_filter_and_bulk_actions_show_the_count_first(stack):
    wp, _, console = await stack(queues={"other": 1})
    jobs = [await Complete.enqueue({"n": n}, schedule_in=3600, tags=["batch"]) for n in range(5)]
    await Complete.enqueue({"n": 99}, schedule_in=3600)
    listing = await (await console.get("/jobs?tag=batch&state=scheduled")).text()
    assert sorted(int(i) for i in re.findall(r'href="/jobs/(\d+)"', listing)) == \
        [j.id for j in jobs]
    by_args = await (await console.get("/jobs?args=%22n%22:%2099")).text()
    assert len(re.findall(r'href="/jobs/(\d+)"', by_args)) == 1
    confirm = await (await console.get("/jobs/bulk/cancel?tag=batch")).text()
    assert '<b>5</b> job(s) match' in confirm
    token = csrf_of(confirm)
    before = re.search(r'name="before" value="(\d+)"', confirm)[1]
    done = await console.post("/jobs/bulk/cancel", data={"csrf": token, "tag": "batch",
                                                         "before": before})
    assert "5 of 5 matching jobs cancelled" in await done.text()
    assert {(await wp.get_job(j.id)).state for j in jobs} == {"cancelled"}
    retried = await console.post(f"/jobs/{jobs[0].id}/retry", data={"csrf": token})
    assert "made available again" in await retried.text()
    assert (await wp.get_job(jobs[0].id)).state == "available"


async def test_a_workflow_shows_its_steps_as_a_graph_and_takes_a_step_signal(stack):
    wp, _, console = await stack()
    workflow = (Workflow(name="review").add("a", Voter.new({"wait_timeout": 0}))
                .add("b", Voter.new({"wait_timeout": 0}))
                .add("merge", Complete.new({}), deps=["a", "b"]))
    jobs = await wp.enqueue_many(workflow)
    for job in jobs[:2]:
        await wait_for_state(wp, job.id, "suspended")
    listing = await (await console.get("/workflows")).text()
    workflow_id = jobs[0].workflow_id
    assert f'href="/workflows/{workflow_id}"' in listing and "0/3" in listing
    page = await (await console.get(f"/workflows/{workflow_id}")).text()
    assert page.index(f'node-step-{jobs[0].id}') < page.index(f'node-step-{jobs[2].id}')
    assert "after a, b" in page
    # The steps per state, from the engine's counts (merge waits for its dependencies).
    assert '<span class="chip s-suspended">suspended 3</span>' in page
    token = csrf_of(page)
    for step in ("a", "b"):
        sent = await console.post(f"/workflows/{workflow_id}/signal",
                                  data={"csrf": token, "step": step, "payload": '"yes"'})
        assert "1 job(s) reached" in await sent.text()
    await wait_for_state(wp, jobs[2].id, "completed")


async def test_a_browser_gets_a_page_that_says_what_was_wrong(stack):
    _, _, console = await stack()
    html = {"Accept": "text/html,application/xhtml+xml"}
    missing = await console.get("/jobs/424242", headers=html)
    assert missing.status == 404
    assert "no job 424242" in await missing.text() and "<nav>" in await missing.text()
    bad = await console.get("/jobs?state=sleepy", headers=html)
    assert bad.status == 400 and "state: one of" in await bad.text()
    plain = await console.get("/jobs/424242")
    assert plain.status == 404 and "<nav>" not in await plain.text()


async def test_the_overview_shows_the_leaders_sample_while_it_is_fresh(
        start_waitpoint, aiohttp_client, db, schema):
    client = await start_waitpoint(queues={}, peer=False)  # no leader to sample meanwhile
    config = routing.parse_config(CONFIG, "console.yaml", {})
    console = await aiohttp_client(create_console_app(config, client,
                                                      ConsoleAccess(host="127.0.0.1")))
    await db.execute(f"SELECT {schema}.record_depth_sample(ARRAY['bulk'], "
                     f"ARRAY['available'], ARRAY[4242::bigint], 4141, now(), NULL)")
    page = await (await console.get("/overview/live")).text()
    assert ">4141<" in page and "4242" in page and "sampled by the leader" in page
    await db.execute(f"UPDATE {schema}.wait_samples SET sampled_at = now() - interval '2 min'")
    page = await (await console.get("/overview/live")).text()
    assert ">4141<" not in page and "4242" not in page and "counted now" in page
