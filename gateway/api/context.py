"""What every route reaches through the request: the API's own connection to
the gateway's database, the live event hub and what feeds it plans and
stops, the planner, the failed-login counter and the session settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from gateway.api.bin_cache import BinForecasts, BinStates
from gateway.api.hub import EventHub
from gateway.api.limits import LoginLimiter
from gateway.api.map_cache import MapCache
from gateway.api.ngsi_cache import NgsiCache
from gateway.api.open_data_cache import DayCache
from gateway.api.planner import Planner
from gateway.api.watch import WasteWatch
from gateway.config import NGSI_OPEN_TYPES, OPEN_DATASETS
from gateway.daily_export import Settings as ExportSettings
from gateway.privacy import DEFAULT_KEEP_DAYS, DEFAULT_MIN_COUNT
from gateway.storage.store import Store

# A browser session lasts at most this long, and ends sooner when unused.
SESSION_LIFETIME_S = 12 * 3600.0
SESSION_IDLE_S = 2 * 3600.0


@dataclass
class ApiContext:
    store: Store
    district: str
    events: EventHub
    logins: LoginLimiter = field(default_factory=LoginLimiter)
    session_lifetime_s: float = SESSION_LIFETIME_S
    session_idle_s: float = SESSION_IDLE_S
    planner: Planner = field(default_factory=Planner)
    map_cache: MapCache = field(default_factory=MapCache)
    # The map is made on a connection of its own, beside the requests'.
    map_store: Store | None = None
    watch: WasteWatch | None = None
    # Each bin's forecast, latest report and alarms, kept between requests.
    forecasts: BinForecasts = field(default_factory=BinForecasts)
    bin_states: BinStates = field(default_factory=BinStates)
    # NGSI-LD: the entities, kept between requests, and the types anyone
    # may read without an account.
    ngsi: NgsiCache = field(default_factory=NgsiCache)
    open_types: frozenset[str] = frozenset(NGSI_OPEN_TYPES)
    # The daily open-data files: those made lately, the datasets anyone may
    # fetch without an account, and what the files say of the district.
    open_data: DayCache = field(default_factory=DayCache)
    open_datasets: frozenset[str] = frozenset(OPEN_DATASETS)
    export_settings: ExportSettings = field(default_factory=ExportSettings)
    # Presence counts of fewer people are suppressed (docs/privacy.md).
    presence_min_count: int = DEFAULT_MIN_COUNT
    # Raw presence events are kept this long: what the zone effect replays.
    presence_keep_days: float = DEFAULT_KEEP_DAYS
    # The district's name as people say it, for the screens' titles; "" when
    # none is set (the screens then say "the district").
    district_name: str = ""

    def watch_poke(self) -> None:
        """Something the live streams announce has just been stored."""
        if self.watch is not None:
            self.watch.poke()


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx
