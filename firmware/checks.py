# ConfigError and the checks every settings module reads its keys with: the
# node's (firmware/settings.py), a light node's own (firmware/lighting/settings.py)
# and LoRa's (firmware/lora/settings.py). Apart from firmware/settings.py so
# that these need nothing of each other.

ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
ID_MAX = 16
KEY_HEX = 32  # the node's secret key: 16 bytes as hex, made by the provisioning tool
HEX_DIGITS = "0123456789abcdefABCDEF"


class ConfigError(ValueError):
    """A config value the node cannot run with."""


def check_node_id(node_id):
    """Raise ConfigError unless node_id is a valid node id; return it."""
    if not isinstance(node_id, str) or not 1 <= len(node_id) <= ID_MAX:
        raise ConfigError("node id must be 1 to %d characters, got %r" % (ID_MAX, node_id))
    for ch in node_id:
        if ch not in ID_CHARS:
            raise ConfigError(
                "node id %r has %r: use letters, digits, '-', '_' or '.'" % (node_id, ch))
    return node_id


def check_key(key):
    """Raise ConfigError unless key is a node key (32 hex digits); return it.
    The message never repeats the value: a key is a secret."""
    if not isinstance(key, str) or len(key) != KEY_HEX:
        raise ConfigError("key must be %d hex digits (16 bytes), got %s" % (
            KEY_HEX, "%d characters" % len(key) if isinstance(key, str) else type(key).__name__))
    for ch in key:
        if ch not in HEX_DIGITS:
            raise ConfigError("key must be %d hex digits (16 bytes): it has a character "
                              "that is not 0-9 or a-f" % KEY_HEX)
    return key


def check_kid(kid):
    """Raise ConfigError unless kid is the node's OSCORE Sender ID: 1 or 2
    bytes as the gateway gave it at registration, or 4 bytes chosen by
    provisioning while the gateway was out of reach (and taken by the gateway
    with the registration later); as hex. Return it."""
    if not isinstance(kid, str) or len(kid) not in (2, 4, 8) \
            or any(ch not in HEX_DIGITS for ch in kid):
        raise ConfigError("kid must be 2, 4 or 8 hex digits (1 or 2 bytes from the gateway's "
                          "registration, 4 from a provisioning the gateway did not answer), "
                          "got %r" % (kid,))
    return kid.lower()


def number(cfg, key, default, lo, hi):
    """cfg[key], a number lo..hi, or default when absent."""
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError("%s must be a number, got %r" % (key, value))
    if not lo <= value <= hi:
        raise ConfigError("%s must be between %s and %s, got %s" % (key, lo, hi, value))
    return value


def choice(cfg, key, *allowed):
    """cfg[key], one of `allowed`; the first is the default."""
    value = cfg.get(key, allowed[0])
    if value not in allowed or type(value) is not type(allowed[0]):  # 1 is not true
        raise ConfigError("%s must be one of %r, got %r" % (key, allowed, value))
    return value
