"""`kvarter node ...`: the field technician's commands. The work is done in
tools/field/; here are the options, and every failure as one line."""

from __future__ import annotations

import asyncio
import difflib
import functools
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from firmware import settings
from gateway.coap.client import RegistryError, register_nodes
from gateway.records import Node, RegistrationError
from gateway.security.technician import TechnicianCredential
from tools.battery import format_table
from tools.cli.options import EXIT_PARTIAL, echo_json, json_option, note, parse_hostport
from tools.cli.progress import progress
from tools.field.errors import FieldError
from tools.firmware_build import compile_all

F = TypeVar("F", bound=Callable[..., Any])


def one_line(fn: F) -> F:
    """A FieldError becomes click's one-line error, never a traceback."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FieldError as e:
            raise click.ClickException(str(e)) from None
    return wrapper  # type: ignore[return-value]


# What deploy and provision leave behind: the node stopped at its prompt, so
# that the next command finds it awake (a bin node started now would sleep
# for its measurement interval).
WAITING = ("the node waits at its prompt: 'kvarter node selftest' (or its reset button) "
           "starts it")

port_option = click.option(
    "--port", "port", envvar="KVARTER_PORT", required=True, metavar="DEV",
    help="The node's serial port: /dev/ttyUSB0, a pty, or socket://HOST:PORT "
         "(or $KVARTER_PORT).")
site_option = click.option(
    "--site", "site_file", type=click.Path(path_type=Path), metavar="FILE",
    help="Site profile (TOML); else $KVARTER_SITE, else ./kvarter-site.toml.")


@click.group()
def node() -> None:
    """Flash, deploy, provision, check and register nodes."""


@node.command()
@click.argument("node_id", required=False)
@click.option("--role", type=click.Choice(["bin", "light"]))
@click.option("--lat", type=float, help="Latitude, degrees.")
@click.option("--lon", type=float, help="Longitude, degrees.")
@click.option("--kind", default="", help="Bin type or light zone.")
@click.option("--gateway", help="HOST:PORT [site profile's, else 127.0.0.1:5683]")
@click.option("--override", is_flag=True,
              help="Update a node the gateway has without its key: the operator's decision, "
                   "logged at the gateway with your name.")
@click.option("--pending", is_flag=True,
              help="Deliver the registrations and self-test results saved while the gateway "
                   "was out of reach.")
@site_option
@one_line
def register(node_id: str | None, role: str | None, lat: float | None, lon: float | None,
             kind: str, gateway: str | None, override: bool, pending: bool,
             site_file: Path | None) -> None:
    """Tell the gateway about a node so that its reports are accepted."""
    from tools.field.site import find_site, need_technician

    if not pending and (node_id is None or role is None or lat is None or lon is None):
        raise click.ClickException(
            "give NODE_ID --role --lat --lon, or --pending to deliver saved registrations")
    site = find_site(site_file)
    technician = need_technician(site)
    if pending:
        _register_pending(technician)
        return
    assert node_id is not None and role is not None and lat is not None and lon is not None
    try:
        n = Node.from_dict({"node_id": node_id, "role": role, "lat": lat, "lon": lon,
                            "kind": kind})
    except RegistrationError as e:
        raise click.ClickException(str(e)) from None
    gateway = gateway or site.gateway or "127.0.0.1:5683"
    host, port = parse_hostport(gateway)
    try:
        created = asyncio.run(register_nodes(host, port, [n], technician=technician,
                                             override=override))[node_id]
    except RegistryError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{node_id}: {'registered' if created else 'updated'} at {gateway}")


def _register_pending(technician: TechnicianCredential) -> None:
    from tools.field import pending

    path = pending.pending_path()
    outcomes = pending.deliver(path, technician)
    if not outcomes:
        click.echo(f"no registrations or self-tests waiting (in {path})")
        return
    for o in outcomes:
        click.echo(f"{o.node_id}: {o.text}" if o.ok else f"{o.node_id}: still waiting: {o.text}")
    left = [o for o in outcomes if not o.ok]
    if left:
        message = (f"{len(left)} of {len(outcomes)} still waiting in {path}: "
                   "run 'kvarter node register --pending' again once the gateway answers")
        if len(left) == len(outcomes):
            raise FieldError(message)
        click.echo(f"Error: {message}", err=True)
        raise SystemExit(EXIT_PARTIAL)


@node.command("build")
@click.option("--out", "out_dir", default="build/firmware", show_default=True,
              type=click.Path(path_type=Path))
def build_firmware(out_dir: Path) -> None:
    """Compile the firmware to .mpy files for the ESP32 with mpy-cross."""
    try:
        outputs = compile_all(out_dir)
    except RuntimeError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{len(outputs)} files compiled into {out_dir}")


@node.command()
@click.option("--port", "extra", multiple=True, metavar="DEV",
              help="Also look here (ptys, socket://HOST:PORT); may be repeated.")
@click.option("--timeout", default=2.0, show_default=True, type=click.FloatRange(0.2, 30),
              help="Seconds to wait for each node's answer.")
@json_option
@one_line
def ports(extra: tuple[str, ...], timeout: float, as_json: bool) -> None:
    """List serial ports and the MicroPython node on each."""
    from tools.field.ports import format_survey, survey

    with progress("asking each serial port for a node"):
        reports = survey(extra, timeout)
    if as_json:
        echo_json([{"device": r.device, "description": r.description, "answer": r.answer}
                   for r in reports])
        return
    click.echo(format_survey(reports))


@node.command("flash")
@click.argument("image", type=click.Path(path_type=Path))
@port_option
@click.option("--baud", type=click.IntRange(9600, 4_000_000),
              help="Writing speed [site profile's, else 460800].")
@click.option("--chip", help="The board's chip (esp32, esp32s3, ...) [detected].")
@site_option
@one_line
def flash_cmd(image: Path, port: str, baud: int | None, chip: str | None,
              site_file: Path | None) -> None:
    """Put MicroPython on a node: detect the chip, erase, write, verify."""
    from tools.field.flash import DEFAULT_BAUD, flash
    from tools.field.progress import ClickReporter
    from tools.field.site import find_site

    site = find_site(site_file)
    done = flash(image, port, ClickReporter(), baud or site.baud or DEFAULT_BAUD, chip)
    click.echo(f"flashed    {image.name} on the {done.chip}; next: kvarter node deploy --port "
               f"{port}")


@node.command("deploy")
@port_option
@one_line
def deploy_cmd(port: str) -> None:
    """Copy our firmware to a node, only what changed, verified by sha256."""
    from tools.field.deploy import deploy
    from tools.field.node_link import NodeLink
    from tools.field.progress import ClickReporter

    with NodeLink(port) as link:
        done = deploy(link, ClickReporter())
    click.echo(f"deployed   {done.describe()}")
    click.echo(WAITING)


def provision_options(fn: F) -> F:
    options = [
        click.argument("node_id"),
        port_option,
        click.option("--role", type=click.Choice(["bin", "light", "bridge"]), required=True),
        click.option("--lat", type=float, help="Latitude, degrees."),
        click.option("--lon", type=float, help="Longitude, degrees."),
        click.option("--bin-type", help="A bin's type, e.g. 240L [site profile's]."),
        click.option("--zone", help="A light pole's lighting zone [site profile's]."),
        click.option("--wifi-ssid", help="The street Wi-Fi [site profile's]."),
        click.option("--wifi-password", help="Its password [site profile's]."),
        click.option("--lora/--wifi", "lora", default=None,
                     help="Report over LoRa or Wi-Fi [site profile's, else Wi-Fi]."),
        click.option("--sf", type=click.IntRange(7, 12), help="LoRa: the starting SF."),
        click.option("--modem", type=click.Choice(["sx1262", "sx1276"]), help="LoRa: the module."),
        click.option("--output-power", type=click.IntRange(2, 20), help="LoRa: dBm."),
        click.option("--gateway", help="HOST:PORT of the gateway [site profile's]."),
        click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
                     help="Any other config.json key, e.g. --set empty_mm=1100."),
        click.option("--replace", is_flag=True,
                     help="This node replaces a registered one: take over its id and history "
                          "(proved with the key in the node's old config.json)."),
        click.option("--override", is_flag=True,
                     help="Replace a registered node whose key is lost (a broken node): the "
                          "operator's decision, logged at the gateway with your name."),
        site_option,
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


class _Reading(dict[str, Any]):
    """A config.json that notes every key the firmware reads from it."""

    def __init__(self, raw: dict[str, Any], seen: set[str]) -> None:
        super().__init__(raw)
        self.seen = seen

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.seen.add(str(key))
        return super().__contains__(key)


def config_keys(role: str) -> set[str]:
    """The config.json keys a node of this role reads, over Wi-Fi or LoRa:
    asked of the firmware's own settings code, so that the list cannot fall
    behind it."""
    seen: set[str] = set()
    for transport in ("wifi", "lora"):
        raw = {"id": "X", "role": role, "transport": transport, "gateway_host": "127.0.0.1"}
        try:
            settings.Config(_Reading(raw, seen))
        except settings.ConfigError:
            pass  # a bridge needs its radios: the keys read up to there still count
    return seen


def check_set_keys(items: tuple[str, ...], role: str) -> None:
    """--set KEY=VALUE with a KEY no node of the role reads is a typo: the node
    would run without the setting the technician meant."""
    known = config_keys(role)
    for item in items:
        key = item.partition("=")[0].strip()
        if key and key not in known:
            near = difflib.get_close_matches(key, sorted(known), n=3)
            hint = f"did you mean {' or '.join(near)}? " if near else ""
            raise click.ClickException(
                f"--set {key}: a {role} node has no setting {key!r}; {hint}"
                "docs/field-guide.md, 'What a node needs', lists each key")


def _request(site_file: Path | None, node_id: str, role: str, lat: float | None,
             lon: float | None, bin_type: str | None, zone: str | None, wifi_ssid: str | None,
             wifi_password: str | None, lora: bool | None, sf: int | None, modem: str | None,
             output_power: int | None, gateway: str | None, settings: tuple[str, ...],
             replace: bool, override: bool) -> tuple[Any, Any]:
    from tools.field.provision import parse_set, request_from
    from tools.field.site import find_site

    check_set_keys(settings, role)
    site = find_site(site_file)
    req = request_from(site, node_id, role, lat, lon, bin_type=bin_type, zone=zone,
                       wifi_ssid=wifi_ssid, wifi_password=wifi_password, lora=lora, sf=sf,
                       modem=modem, output_power=output_power, gateway=gateway,
                       keys=parse_set(settings), replace=replace, override=override)
    return site, req


@node.command("provision")
@provision_options
@one_line
def provision_cmd(port: str, site_file: Path | None, **opts: Any) -> None:
    """Write a node's config.json and register it with the gateway."""
    from tools.field import pending
    from tools.field.node_link import NodeLink
    from tools.field.progress import ClickReporter
    from tools.field.provision import provision

    site, req = _request(site_file, **opts)
    done = provision(req, site, lambda: NodeLink(port), ClickReporter(), pending.pending_path())
    addr = f", short address {done.addr}" if done.addr else ""
    click.echo(f"{done.node_id}: {done.registered}{addr}")
    click.echo(WAITING)


@node.command("selftest")
@port_option
@click.option("--no-start", is_flag=True, help="Leave the node stopped at its prompt.")
@site_option
@one_line
def selftest_cmd(port: str, no_start: bool, site_file: Path | None) -> None:
    """Run the node's self-test, then start the node; the result goes to the
    gateway of the site profile (its nodes screen), or waits on this laptop
    while the gateway is out of reach ('kvarter node register --pending'
    gives it). Exit status 1 if a check fails, 3 if all passed but the
    gateway did not get the result."""
    from tools.field import pending
    from tools.field.node_link import NodeLink
    from tools.field.selftest import format_table, give_gateway, run_selftest, summary
    from tools.field.site import find_site

    site = find_site(site_file)
    with NodeLink(port) as link:
        result = run_selftest(link)
        if not no_start:
            # The node must not be left at its prompt when the technician
            # leaves: a reset starts its program as at power-on.
            link.reset()
    checks = result.checks
    click.echo(format_table(checks))
    if result.firmware:
        click.echo(f"firmware {result.firmware}")
    given: FieldError | None = None
    if site.technician is not None:
        try:
            click.echo(give_gateway(result, site, pending_file=pending.pending_path()))
        except FieldError as e:
            given = e
    else:
        note("the result stays on this laptop: the site profile has no [technician] "
             "credential to give it to the gateway with")
    started = "" if no_start else "; the node was reset and runs its program"
    if not all(c.ok for c in checks):
        raise FieldError(summary(checks) + started
                         + ("" if given is None else f"; {given}"))
    if given is not None:
        note(str(given))
        click.echo(summary(checks) + started)
        raise SystemExit(EXIT_PARTIAL)
    click.echo(summary(checks) + started)


@node.command("monitor")
@port_option
@one_line
def monitor_cmd(port: str) -> None:
    """Show the node's log live, with the time of each line; Ctrl-C ends."""
    from tools.field.monitor import monitor, stamp

    zone = datetime.now().astimezone().strftime("%Z, UTC%z")
    said = False

    def show(line: str) -> None:
        # The lines carry the time of day only: their zone is said once, as
        # soon as the node is there.
        nonlocal said
        if not said:
            said = True
            click.echo(f"{stamp()}  -- times are this computer's local time, {zone}")
        click.echo(line)

    try:
        monitor(port, show)
    except KeyboardInterrupt:
        click.echo(f"{stamp()}  -- monitor stopped")


@node.command("setup")
@provision_options
@click.option("--image", type=click.Path(path_type=Path),
              help="Flash this MicroPython image first (a blank or broken node).")
@click.option("--baud", type=click.IntRange(9600, 4_000_000), help="Flashing speed.")
@click.option("--no-start", is_flag=True, help="Leave the node stopped at the end.")
@one_line
def setup_cmd(port: str, site_file: Path | None, image: Path | None, baud: int | None,
              no_start: bool, **opts: Any) -> None:
    """A new node in one go: flash (with --image), deploy, provision, self-test."""
    from tools.field import pending
    from tools.field.progress import ClickReporter
    from tools.field.setup_node import SetUpButWaiting, SetupOptions, setup

    site, req = _request(site_file, **opts)
    try:
        results = setup(req, site, SetupOptions(port, image, baud, not no_start),
                        ClickReporter(), pending.pending_path())
    except SetUpButWaiting as e:
        # The node is done; the gateway's part is not: a partial success.
        click.echo(f"Error: {e}", err=True)
        raise SystemExit(EXIT_PARTIAL) from None
    click.echo(f"{req.node_id} is set up: {len(results)} steps done"
               + ("; it is running now" if not no_start else ""))



@node.command("battery")
@click.option("--config", "config_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The node's config.json.")
@click.option("--capacity-ah", default=19.0, show_default=True,
              type=click.FloatRange(0.1, 1000), help="Cell capacity, Ah.")
def battery(config_path: Path, capacity_ah: float) -> None:
    """Estimate a bin node's battery life from its config (firmware/energy.py)."""
    try:
        cfg = settings.parse(config_path.read_text())
    except settings.ConfigError as e:
        raise click.ClickException(f"{config_path}: {e}") from None
    if cfg.role != "bin":
        raise click.ClickException(
            f"{config_path}: {cfg.node_id} is a {cfg.role} node; the battery model is "
            "for bin nodes (light nodes run on the pole's mains)")
    click.echo(format_table(cfg, capacity_ah))
