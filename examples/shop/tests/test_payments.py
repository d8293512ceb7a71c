from shop.workers import OrderWorker  # awaits key f"order:{order_id}"


async def test_a_paid_order_resumes(waitpoint_receiver):
    receiver = await waitpoint_receiver(
        "config/routes.yaml", queues={"orders": 5},
        env={"STRIPE_WEBHOOK_SECRET": "whsec_test_secret"},
    )
    job = await OrderWorker.enqueue({"order_id": 1001})
    await receiver.wait_for_state(job.id, "scheduled")  # asleep, waiting on its key
    replayed = await receiver.replay("tests/recordings/payment_succeeded.json")
    assert replayed.status == 200
    assert replayed.event.outcome == "routed"
    assert replayed.signals[0]["reached"] == [job.id]
    done = await receiver.wait_for_state(job.id, "completed")
    assert done.recorded == {"charged": 1001, "amount": 4200}
