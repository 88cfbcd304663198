"""`kvarter node setup`: a new node from the box to reporting, in the order a
technician works: flash (when an image is given), deploy, provision,
self-test, start. One line per step; the first failure stops the row and
says which step failed and what to do."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools.field.deploy import deploy
from tools.field.errors import FieldError
from tools.field.flash import DEFAULT_BAUD, flash
from tools.field.node_link import NodeLink
from tools.field.probe import probe
from tools.field.progress import Reporter
from tools.field.provision import REGISTERED_ROLES, Request, provision
from tools.field.selftest import format_table, give_gateway, run_selftest, summary
from tools.field.site import Site, need_technician

# Failures a node cannot help before its first report: it has not heard the
# gateway yet, and its clock is set by the network once it is online.
EXPECTED_BEFORE_FIRST_REPORT = {("contact", "never"), ("clock", "not_set")}
BOOT_WAIT_S = 15.0  # MicroPython's first boot after flashing makes its filesystem


class StepFailed(FieldError):
    def __init__(self, step: str, cause: FieldError) -> None:
        super().__init__(f"setup stopped at {step}: {cause}", short=f"{step}: {cause.short}")
        self.step = step


@dataclass(frozen=True)
class SetupOptions:
    port: str
    image: Path | None = None
    baud: int | None = None
    start: bool = True  # reset the node at the end so that it runs


def _wait_for_repl(port: str, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            probe(port, 2.0)
            return
        except FieldError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def setup(req: Request, site: Site, opts: SetupOptions, reporter: Reporter,
          pending_file: Path) -> list[str]:
    """Returns the steps' result lines; raises StepFailed."""
    if req.role in REGISTERED_ROLES:
        need_technician(site)  # before the node is flashed, not after
    results: list[str] = []
    steps: list[tuple[str, Callable[[], str]]] = []

    def link() -> NodeLink:  # a session of its own for each step
        return NodeLink(opts.port)

    if opts.image is not None:
        image = opts.image

        def do_flash() -> str:
            done = flash(image, opts.port, reporter, opts.baud or site.baud or DEFAULT_BAUD)
            _wait_for_repl(opts.port, BOOT_WAIT_S)
            return f"MicroPython written to the {done.chip} at 0x{done.offset:x} and verified"
        steps.append(("flash", do_flash))

    def do_deploy() -> str:
        with link() as node:
            return deploy(node, reporter).describe()

    def do_provision() -> str:
        done = provision(req, site, link, reporter, pending_file)
        addr = f", short address {done.addr}" if done.addr else ""
        return f"config.json written and verified; {done.registered}{addr}"

    def do_selftest() -> str:
        with link() as node:
            result = run_selftest(node)
            checks = result.checks
            reporter.say(format_table(checks))
            failed = [c for c in checks
                      if not c.ok and (c.name, c.code) not in EXPECTED_BEFORE_FIRST_REPORT]
            if failed:
                raise FieldError(f"{summary(checks)}; {failed[0].name}: {failed[0].advice}",
                                 short=summary(checks))
            if opts.start:
                node.reset()
        waived = [c.name for c in checks if not c.ok]
        note = f" ({', '.join(waived)}: expected before the first report)" if waived else ""
        # The gateway's screen shows the result; a gateway out of reach
        # does not undo a node that is set up (its registration waits too).
        try:
            given = "; " + give_gateway(result, site, frozenset(EXPECTED_BEFORE_FIRST_REPORT))
        except FieldError as e:
            given = f"; {e.short}"
        return f"{sum(c.ok for c in checks)} of {len(checks)} checks passed{note}" + (
            "; node reset to start" if opts.start else "") + given

    steps += [("deploy", do_deploy), ("provision", do_provision), ("selftest", do_selftest)]
    for i, (name, step) in enumerate(steps, 1):
        try:
            line = step()
        except FieldError as e:
            raise StepFailed(name, e) from None
        results.append(f"{i}/{len(steps)} {name:<9} ok  {line}")
        reporter.say(results[-1])
    return results
