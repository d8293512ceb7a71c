"""An order that waits for its payment, by order id (a correlation key)."""

from waitpoint import Cancel, Record, SignalTimeout, await_signal, worker


@worker(queue="orders")
class OrderWorker:
    async def process(self, job):
        order_id = job.args["order_id"]
        try:
            # wait_timeout=0: no live wait, the job frees its slot at once (scheduled).
            payment = await await_signal(key=f"order:{order_id}", wait_for=86_400,
                                         wait_timeout=0)
        except SignalTimeout:
            return Cancel("never paid")
        return Record({"charged": order_id, "amount": payment["amount"]})
