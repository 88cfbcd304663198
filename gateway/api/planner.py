"""Today's plan made in a process of its own (`python -m
gateway.waste.daily`), one at a time: the solver's seconds of CPU never hold
up the gateway's event loop, on which CoAP and the API run."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

import gateway
from gateway.api.problems import Problem
from gateway.waste.daily import PlanRequest

log = logging.getLogger("gateway.api")


def child_env() -> dict[str, str]:
    """The environment of a child run as `python -m gateway...`: this
    process's, with the directory this gateway's code was imported from
    first on the module path, whatever the working directory."""
    root = str(Path(gateway.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


class Planner:
    """One plan at a time, each in a child process (`python -m
    gateway.waste.daily`), which stores the plan in the gateway's database."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._proc: asyncio.subprocess.Process | None = None

    async def plan(self, db_path: str, request: PlanRequest, made_by: str) -> int:
        if self._lock.locked():
            raise Problem(409, "another plan is being made on this gateway; wait for it and "
                               "try again", {"Retry-After": "10"})
        async with self._lock:
            job = {"db": db_path, "made_by": made_by,
                   "request": {**request.__dict__, "depot": list(request.depot)}}
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway.waste.daily", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=child_env())
            try:
                out, err = await self._proc.communicate(json.dumps(job).encode())
            finally:
                proc, self._proc = self._proc, None
            try:
                answer = json.loads(out.decode().strip().splitlines()[-1])
            except (ValueError, IndexError):
                log.error("planning failed (exit %s): %s", proc.returncode,
                          err.decode(errors="replace").strip()[-2000:])
                raise Problem(500, "planning failed on the gateway; its log tells why") \
                    from None
            if "error" in answer:
                raise Problem(409, str(answer["error"]))
            return int(answer["plan_id"])

    async def close(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()
