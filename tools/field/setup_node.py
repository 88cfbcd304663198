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
from tools.field.provision import REGISTERED_ROLES, RegistrationSaved, Request, provision
from tools.field.selftest import format_table, give_gateway, run_selftest, summary
from tools.field.site import Site, need_technician

# Failures a node cannot help before its first report: it has not heard the
# gateway yet, and its clock is set by the network once it is online.
EXPECTED_BEFORE_FIRST_REPORT = {("contact", "never"), ("clock", "not_set")}
# And what the node cannot help while the gateway is out of reach, already
# known from provisioning (the registration waits on the laptop).
EXPECTED_WITH_GATEWAY_AWAY = {("gateway", "unreachable")}
BOOT_WAIT_S = 15.0  # MicroPython's first boot after flashing makes its filesystem


class StepFailed(FieldError):
    def __init__(self, step: str, cause: FieldError) -> None:
        super().__init__(f"setup stopped at {step}: {cause}", short=f"{step}: {cause.short}")
        self.step = step


class SetUpButWaiting(FieldError):
    """Every step done on the node, but the gateway did not answer: what it
    should have got waits on the laptop. The result lines are kept."""

    def __init__(self, message: str, results: list[str]) -> None:
        super().__init__(message, short="set up; the gateway's part waits on this laptop")
        self.results = results


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

    # A gateway out of reach on the street does not stop the set-up: the
    # node gets all it needs, and the registration and the self-test's
    # result wait on the laptop (kvarter node register --pending).
    saved: list[RegistrationSaved] = []

    def do_provision() -> str:
        try:
            done = provision(req, site, link, reporter, pending_file)
        except RegistrationSaved as e:
            saved.append(e)
            return (f"config.json written and verified; the registration is kept on this "
                    f"laptop (the gateway at {req.gateway} did not answer)")
        addr = f", short address {done.addr}" if done.addr else ""
        return f"config.json written and verified; {done.registered}{addr}"

    def do_selftest() -> str:
        expected = frozenset(EXPECTED_BEFORE_FIRST_REPORT
                             | (EXPECTED_WITH_GATEWAY_AWAY if saved else set()))
        with link() as node:
            result = run_selftest(node)
            checks = result.checks
            reporter.say(format_table(checks))
            failed = [c for c in checks if not c.ok and (c.name, c.code) not in expected]
            if failed:
                raise FieldError(f"{summary(checks)}; {failed[0].name}: {failed[0].advice}",
                                 short=summary(checks))
            if opts.start:
                node.reset()
        waived = [c.name for c in checks if not c.ok]
        note = (f" ({', '.join(waived)}: expected before the first report"
                + (" and with the gateway out of reach" if saved else "") + ")") if waived else ""
        # The gateway's screen shows the result; a gateway out of reach
        # does not undo a node that is set up (its registration waits too).
        try:
            given = "; " + give_gateway(result, site, expected, pending_file)
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
    if saved:
        raise SetUpButWaiting(
            f"{req.node_id} is set up, but the gateway at {req.gateway} did not answer: its "
            f"registration and self-test are kept in {pending_file}; run 'kvarter node register "
            "--pending' once the gateway is reachable (no need to come back to the node: it "
            "has its kid and reports once the gateway has the registration)", results)
    return results
