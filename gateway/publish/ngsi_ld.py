"""The district's NGSI-LD entities on MQTT (docs/open-data.md, "On MQTT"):
each entity's latest state, retained, on a topic of its own,

    <prefix>/<district>/ngsi-ld/<Type>/<entity id>

in the form NGSI-LD context brokers give their MQTT notifications
(Orion-LD, Scorpio, Stellio; ETSI GS CIM 009's MQTT binding of
notifications): an object whose
`metadata` holds what HTTP would carry in headers (Content-Type, and the
@context's Link) and whose `body` is an NGSI-LD Notification with the entity
in its `data`. A consumer written for a context broker's MQTT notifications
takes ours as they are; a plain subscriber takes `body.data[0]`.

The entities are made by gateway/opendata/entities.py, as the HTTP provider
serves them; this module only names the topic and wraps the message."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection
from datetime import UTC, datetime

from gateway.opendata.entities import SMART_DATA_MODELS_CONTEXT, Entity, key_values

FORMATS = ("normalized", "keyValues")
# The @context as an NGSI-LD provider sends it with application/json: a Link.
LINK = (f'<{SMART_DATA_MODELS_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; '
        'type="application/ld+json"')

# What a topic level may not hold: '/' separates levels, '+' and '#' are
# wildcards in a subscription, NUL is forbidden; '%' escapes the others, so
# it is escaped too and every id has one topic level and no other id has it.
_ESCAPED = {c: f"%{ord(c):02X}" for c in "%/+#\x00"}


def topic_level(text: str) -> str:
    """text as one MQTT topic level, reversibly: the characters a level may
    not hold percent-encoded, as in a URI. Ids are `urn:ngsi-ld:<Type>:<name>`
    and the names the gateway accepts need none of this; a name it may accept
    one day must still never open another topic or a wildcard."""
    return "".join(_ESCAPED.get(c, c) for c in text)


def entity_topic(prefix: str, district: str, entity_type: str, entity_id: str) -> str:
    return (f"{prefix}/{district}/ngsi-ld/{topic_level(entity_type)}/"
            f"{topic_level(entity_id)}")


def subscription_id(district: str) -> str:
    """The gateway's standing subscription, as NGSI-LD names the source of a
    notification: configured on the gateway, not made through an API."""
    return f"urn:ngsi-ld:Subscription:kvarter:{topic_level(district)}"


def _notified_at(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{int(t * 1000) % 1000:03d}Z"


def notification(entity: Entity, district: str, key_value_form: bool, now: float) -> bytes:
    """The MQTT message for one entity's state."""
    body = {"id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}", "type": "Notification",
            "subscriptionId": subscription_id(district), "notifiedAt": _notified_at(now),
            "data": [key_values(entity) if key_value_form else entity]}
    return json.dumps({"metadata": {"Content-Type": "application/json", "Link": LINK},
                       "body": body}, separators=(",", ":")).encode()


class NgsiLdOut:
    """Hands each changed entity of the published types to the broker,
    retained; an entity gone clears its topic (an empty retained message).

    send(topic, payload) -> bool: False when the broker's queue has no room
    now; the entity is then offered again on the next pass."""

    def __init__(self, prefix: str, district: str, types: Collection[str], fmt: str,
                 send: Callable[[str, bytes], bool], clock: Callable[[], float]) -> None:
        self.prefix = prefix
        self.district = district
        self.types = frozenset(types)
        self.key_value_form = fmt == "keyValues"
        self.send = send
        self.clock = clock
        self.sent = 0

    def offer(self, entity: Entity) -> bool:
        if entity["type"] not in self.types:
            return True
        ok = self.send(entity_topic(self.prefix, self.district, entity["type"], entity["id"]),
                       notification(entity, self.district, self.key_value_form, self.clock()))
        self.sent += ok
        return ok

    def gone(self, entity_type: str, entity_id: str) -> bool:
        if entity_type not in self.types:
            return True
        return self.send(entity_topic(self.prefix, self.district, entity_type, entity_id), b"")
