"""What makes a bin an alarm on people's screens: the flags of its latest
report, a low battery, and silence."""

from __future__ import annotations

from firmware import codec
from gateway.storage.alarm_acks import AckRow
from gateway.storage.store import Store

# A bin node runs on a 3.6 V lithium-thionyl chloride cell, whose voltage
# stays flat until near its end: below this it has weeks, not years, left.
LOW_BATTERY_MV = 3300

# A bin node reports at least every heartbeat (4 h by default,
# firmware/energy.py); three missed in a row and it is offline.
BIN_OFFLINE_S = 3 * 4 * 3600.0
# A light node reports its status every status_interval_s (15 min by
# default, firmware/lighting/settings.py), by day as by night: three reports
# missed in a row and it is offline. (Its presence events do not count as
# contact on people's screens: their times would be a passer-by's path.)
LIGHT_STATUS_INTERVAL_S = 900.0
LIGHT_OFFLINE_S = 3 * LIGHT_STATUS_INTERVAL_S

FLAG_ALARMS = [(codec.BIN_FLAG_FIRE, "fire"), (codec.BIN_FLAG_TILT, "tilt"),
               (codec.BIN_FLAG_LID_OPEN, "lid-open"),
               (codec.BIN_FLAG_SENSOR_FAULT, "sensor-fault")]
ALARMS = ("fire", "tilt", "lid-open", "sensor-fault", "low-battery", "offline")

FLAG_NAMES = [(codec.BIN_FLAG_THRESHOLD, "over-threshold"),
              (codec.BIN_FLAG_FAST_RISE, "fast-rise"), *FLAG_ALARMS,
              (codec.BIN_FLAG_BOOT, "boot"), (codec.BIN_FLAG_QUEUE_DROPPED, "queue-dropped")]


def alarm_names(flags: int, battery_mv: int | None) -> list[str]:
    names = [name for bit, name in FLAG_ALARMS if flags & bit]
    if battery_mv is not None and battery_mv < LOW_BATTERY_MV:
        names.append("low-battery")
    return names


def flag_names(flags: int) -> list[str]:
    return [name for bit, name in FLAG_NAMES if flags & bit]


def offline(role: str, last_contact: float | None, now: float) -> bool:
    limit = BIN_OFFLINE_S if role == "bin" else LIGHT_OFFLINE_S
    return last_contact is None or now - last_contact > limit


_FLAG_OF = {name: bit for bit, name in FLAG_ALARMS}


def onset(store: Store, node_id: str, alarm: str,
          last_contact: float | None) -> tuple[float | None, float | None]:
    """(since, known): when the bin began to show this alarm (the measured
    time of the first report of the latest unbroken run showing it; the
    last contact for offline), and when the gateway learnt of that."""
    if alarm == "offline":
        return last_contact, last_contact
    if alarm == "low-battery":
        found = store.low_battery_onset(node_id, LOW_BATTERY_MV)
    else:
        found = store.flag_onset(node_id, _FLAG_OF[alarm])
    return (None, None) if found is None else (float(found[0]), found[1])


def is_acknowledged(ack: AckRow | None, known: float | None) -> bool:
    """An acknowledgement covers the alarm the gateway knew of when it was
    made, not one of the same kind that starts later."""
    return ack is not None and (known is None or ack.acked_at >= known)
