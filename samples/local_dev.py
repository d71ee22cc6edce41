"""Local development behind NAT: submit one file and wait for it by polling only.

No inbound connectivity is needed: fastwait polls the status endpoint adaptively (tools.fast
reports progress, so it polls near the predicted finish) and downloads the output.

    FASTWAIT_API_KEY=fast_prod_... python samples/local_dev.py photo.jpg out/
    python samples/local_dev.py --fake photo.jpg out/      # offline, against the fake provider
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from fastwait import Client, FastwaitError, JobStatus
from fastwait.downloads import make_directory
from fastwait.providers import ToolsFastCompress
from fastwait.testing import FakeProvider


@contextlib.asynccontextmanager
async def compress_api(fake: bool) -> AsyncIterator[ToolsFastCompress]:
    if not fake:
        yield ToolsFastCompress(os.environ["FASTWAIT_API_KEY"])
        return
    async with FakeProvider(durations=2.0) as provider:
        yield ToolsFastCompress("test-key", provider.base_url("compress"))


def show_progress(status: JobStatus) -> None:
    print(f"  {status.state.name.lower()} {status.progress_percent or 0:.0f}%", file=sys.stderr)


async def main(file: Path, dest: Path, fake: bool) -> int:
    try:
        make_directory(dest)  # before the job is submitted (and paid for), not after
    except FastwaitError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 2
    async with compress_api(fake) as api, Client(api, on_progress=show_progress) as client:
        try:
            accepted = await client.submit(file)
            print(f"submitted {file.name} as job {accepted.id}")
            status = await client.wait(accepted.id, timeout=600)
            saved = await client.download(accepted.id, dest, status=status)
        except FastwaitError as exc:
            print(f"failed: {exc}", file=sys.stderr)
            return 1
        stats = client.poll_stats(accepted.id)
        print(f"saved {saved} after {stats.polls if stats else '?'} status requests")
        return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--fake", action="store_true", help="use the bundled fake provider")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.file, args.dest, args.fake)))
