# What every payload on the wire shares: a version byte first, so that a
# later layout can be told apart from this one, and the one error a decoder
# raises. docs/protocol.md documents every byte of every payload.

VERSION = 1


class DecodeError(ValueError):
    """A payload that is not a valid record of the expected kind."""


def check_size(data, size, what):
    """Raise DecodeError unless data is `size` bytes of this VERSION."""
    if len(data) != size:
        raise DecodeError(
            "%s must be %d bytes, got %d" % (what, size, len(data))
        )
    if data[0] != VERSION:
        raise DecodeError(
            "%s version %d is not supported (this gateway speaks %d)"
            % (what, data[0], VERSION)
        )
