"""Run as `python -m tests.waitpoint.main_worker`: prints the name its jobs get."""

from waitpoint import worker


@worker
class RunAsMain:
    async def process(self, job):
        return None


if __name__ == "__main__":
    print(RunAsMain.new({}).worker)
