"""The API's HTTP server: uvicorn serving the app on the gateway's own event
loop, as one task beside CoAP, on a socket the gateway binds itself (so that
a port in use is an error the gateway reports in one line, and port 0 tells
which port it got). HTTPS when a certificate and key are configured."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Generator

import uvicorn

from gateway.api.bin_cache import BinForecasts, BinStates
from gateway.api.context import ApiContext
from gateway.api.factory import create_app
from gateway.api.hub import EventHub
from gateway.api.watch import WasteWatch
from gateway.config import GatewayConfig, GatewayStartError, district_title
from gateway.daily_export import Settings as ExportSettings
from gateway.records import Record
from gateway.storage.store import Store

log = logging.getLogger("gateway.api")

# On stop, requests under way get this long to finish.
GRACE_S = 3.0


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The gateway handles SIGINT and SIGTERM itself and stops the API in
        # its order; uvicorn must not take the signals over.
        yield


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as e:
        raise GatewayStartError(f"http_host {host!r} does not resolve to an address ({e}); "
                                "give an IP address") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        raise GatewayStartError(
            f"cannot listen for HTTP on {host}:{port}: {e.strerror or e}; is another gateway "
            "running? choose another --http-port (http_port)") from None
    return sock


class ApiServer:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.events = EventHub()
        self.port: int | None = None
        self._store: Store | None = None
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self._ctx: ApiContext | None = None
        self._warm_stop = threading.Event()
        self._warm: threading.Thread | None = None

    def bin_caches(self) -> tuple[BinStates, BinForecasts] | None:
        """What the API keeps of the bins (prepare() first), for the NGSI-LD
        updates on MQTT to share: each bin's forecast learnt once."""
        return None if self._ctx is None else (self._ctx.bin_states, self._ctx.forecasts)

    def record(self, record: Record) -> None:
        """A report the pipeline has stored: to the live streams."""
        self.events.record(record)

    async def prepare(self) -> None:
        """Bind the port and load the certificate: what can fail for a
        setting fails here, before the rest of the gateway starts."""
        c = self.config
        self._sock = _bind(c.http_host, c.http_port)
        tls = c.http_tls_cert is not None
        try:
            # Its own connection: the API's reads do not wait for the
            # writer's lock, and WAL lets them run beside its commits.
            self._store = await asyncio.to_thread(Store, c.db_path)
            ctx = ApiContext(store=self._store, district=c.district, events=self.events,
                             open_types=frozenset(c.ngsi_open_types),
                             presence_min_count=c.presence_min_count,
                             presence_keep_days=c.presence_keep_days,
                             district_name=district_title(c.district_name, c.district),
                             open_datasets=c.open_datasets(),
                             export_settings=ExportSettings(
                                 c.district, district_title(c.district_name, c.district),
                                 c.presence_interval_s, c.presence_min_count, c.open_data_licence))
            self._ctx = ctx
            ctx.map_store = await asyncio.to_thread(Store, c.db_path)
            ctx.watch = WasteWatch(self._store, self.events)
            config = uvicorn.Config(
                create_app(ctx), lifespan="off", log_config=None, access_log=False,
                server_header=False, proxy_headers=c.http_behind_proxy,
                forwarded_allow_ips="127.0.0.1,::1" if c.http_behind_proxy else "",
                ssl_certfile=str(c.http_tls_cert) if tls else None,
                ssl_keyfile=str(c.http_tls_key) if tls else None,
                timeout_graceful_shutdown=int(GRACE_S))
            try:
                config.load()
            except (OSError, ssl.SSLError) as e:
                raise GatewayStartError(
                    f"cannot use the HTTPS certificate {c.http_tls_cert} and key "
                    f"{c.http_tls_key}: {getattr(e, 'strerror', None) or e}; give a PEM "
                    "certificate and its unencrypted key") from None
            self._server = _Server(config)
        except BaseException:
            await self.stop()
            raise

    async def start(self) -> None:
        """Serve, on the socket prepare() bound."""
        assert self._server is not None and self._sock is not None, "prepare() first"
        sock = self._sock
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="http-api")
        try:
            while not self._server.started:
                if self._task.done():
                    self._task.result()
                    raise GatewayStartError("the HTTP API stopped as it started; see the log")
                await asyncio.sleep(0.01)
        except BaseException:
            await self.stop()
            raise
        self.port = int(sock.getsockname()[1])
        assert self._ctx is not None and self._ctx.watch is not None
        await self._ctx.watch.start()
        self._warm = threading.Thread(target=self._warm_bins, args=(self._ctx,), daemon=True,
                                      name="bins-warm")
        self._warm.start()
        c = self.config
        log.info("HTTP API on %s://%s:%d/api/v1 (spec at /api/openapi.json)",
                 "https" if c.http_tls_cert is not None else "http", c.http_host, self.port)

    def _warm_bins(self, ctx: ApiContext) -> None:
        """Each bin's latest state, then its forecast, learnt before anyone
        asks: a district's first page of bins or list of alarms is then as
        fast as the next."""
        try:
            ctx.bin_states.alarms(ctx.store)
            t0 = time.perf_counter()
            learnt = ctx.forecasts.warm(ctx.store, self._warm_stop)
            if learnt:
                log.info("HTTP API: the forecast of %d bins learnt in %.1f s", learnt,
                         time.perf_counter() - t0)
        except Exception as e:  # the requests learn their own bins instead
            if not self._warm_stop.is_set():
                log.error("HTTP API: learning the bins' forecasts failed: %s", e)

    async def stop(self) -> None:
        self._warm_stop.set()
        if self._warm is not None:
            await asyncio.to_thread(self._warm.join)
            self._warm = None
        if self._ctx is not None:
            await self._ctx.planner.close()
            self._ctx.map_cache.close()
            if self._ctx.watch is not None:
                await self._ctx.watch.stop()
            if self._ctx.map_store is not None:
                await asyncio.to_thread(self._ctx.map_store.close)
                self._ctx.map_store = None
        self.events.close()  # live streams end, so their connections close
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            try:
                await self._task
            except Exception as e:  # stopping goes on whatever the server did
                log.error("HTTP API stopped with an error: %s", e)
        self._server = self._task = None
        if self._sock is not None:
            self._sock.close()  # uvicorn closed it if it served; this is for the other case
            self._sock = None
        if self._store is not None:
            await asyncio.to_thread(self._store.close)
            self._store = None
        if self.events.sent or self.events.dropped:
            log.info("HTTP API: %d live events sent, %d dropped for slow readers",
                     self.events.sent, self.events.dropped)
