# Protecting CoAP messages with OSCORE (RFC 8613 sections 5 and 8) as a node
# needs it: the requests it sends to the gateway (POST /b, /p, /s) and their
# responses; the requests the gateway sends it (POST /c, /z) and its answers.
#
# A protected message keeps the CoAP header (type, message id, token) and the
# options a proxy must see (class U: Uri-Host, Uri-Port, Proxy-Uri,
# Proxy-Scheme); its code is POST for a request and 2.04 for a response
# (section 4.2). Everything else -- the real code, Uri-Path, No-Response,
# Content-Format, the payload -- is encrypted, and the payload is the
# ciphertext with its 8-byte tag. The OSCORE option (9) says which sequence
# number (Partial IV), which key (kid) and which ID Context were used.
# Responses reuse the request's nonce unless told otherwise (section 5.2).
from firmware.oscore import cbor
from firmware.oscore.ccm import TagMismatch, decrypt, encrypt
from firmware.oscore.context import ALG_AEAD, piv_bytes, piv_int
from firmware.proto import coap

OPT_OSCORE = 9
# Class U: left outside, readable by proxies (RFC 8613 table 4).
OUTER_OPTIONS = (3, 7, 35, 39)
UNAUTHORIZED = 0x81  # 4.01


class OscoreError(ValueError):
    """A message that does not verify; `code` is what a server answers it
    with, unprotected (section 8.2): 4.00, or 4.01 for an unknown key or a
    replay."""

    code = coap.BAD_REQUEST


class NotProtected(OscoreError):
    """No OSCORE option: the message is not protected at all."""

    code = UNAUTHORIZED


class UnknownContext(OscoreError):
    """A kid or ID Context that is not this context's (4.01 "Security
    context not found")."""

    code = UNAUTHORIZED


class Replayed(OscoreError):
    """A request whose sequence number was seen already or is too old (4.01
    "Replay detected")."""

    code = UNAUTHORIZED


class Request:
    """What identifies a request to its response (section 7): the requester's
    Sender ID (kid), its Partial IV and the nonce made from them."""

    def __init__(self, kid, piv, nonce):
        self.kid = kid
        self.piv = piv
        self.nonce = nonce


def option_value(piv=b"", kid=None, kid_context=None):
    """The OSCORE option's value (section 6.1): flag byte (n = Partial IV
    length, k = kid present, h = kid context present), Partial IV, kid
    context with its length, kid. All absent: empty."""
    flags = len(piv) | (0x08 if kid is not None else 0) | (0x10 if kid_context is not None else 0)
    if not flags:
        return b""
    out = bytes((flags,)) + bytes(piv)
    if kid_context is not None:
        out += bytes((len(kid_context),)) + bytes(kid_context)
    if kid is not None:
        out += bytes(kid)
    return out


def parse_option(value):
    """(piv, kid, kid_context) from an OSCORE option's value; kid and
    kid_context are None when absent."""
    value = bytes(value)
    if not value:
        return b"", None, None
    flags = value[0]
    n = flags & 0x07
    if flags & 0xE0 or n > 5:
        raise OscoreError("OSCORE option: reserved flags 0x%02x" % flags)
    i = 1 + n
    if i > len(value):
        raise OscoreError("OSCORE option: truncated Partial IV")
    piv = value[1:i]
    kid_context = None
    if flags & 0x10:
        if i >= len(value):
            raise OscoreError("OSCORE option: truncated kid context")
        s = value[i]
        if i + 1 + s > len(value):
            raise OscoreError("OSCORE option: truncated kid context")
        kid_context = value[i + 1:i + 1 + s]
        i += 1 + s
    kid = None
    if flags & 0x08:
        kid = value[i:]
    elif i != len(value):
        raise OscoreError("OSCORE option: bytes after its fields")
    return piv, kid, kid_context


def aad(request_kid, request_piv):
    """The AEAD's additional data: the COSE Enc_structure around the external
    AAD (section 5.4), always the request's kid and Partial IV. No class I
    options."""
    external = cbor.encode([1, [ALG_AEAD], bytes(request_kid), bytes(request_piv), b""])
    return cbor.encode(["Encrypt0", b"", external])


def _split(msg):
    outer = []  # type: list[tuple[int, bytes]]
    inner = []  # type: list[tuple[int, bytes]]
    for opt in msg.options:
        if opt[0] == OPT_OSCORE:
            raise ValueError("message is protected already")
        (outer if opt[0] in OUTER_OPTIONS else inner).append(opt)
    body = coap.encode(coap.Message(coap.CON, 0, 0, b"", inner, msg.payload))[4:]
    return outer, bytes((msg.code,)) + body


def _join(outer, plaintext):
    """The unprotected message: the outer header and class U options, the
    code, options and payload from the plaintext."""
    if not plaintext:
        raise OscoreError("empty plaintext")
    try:
        inner = coap.decode(b"\x40\x00\x00\x00" + plaintext[1:])
    except coap.CoapError as e:
        raise OscoreError("inner message: %s" % e)
    options = [o for o in outer.options if o[0] != OPT_OSCORE] + inner.options
    return coap.Message(outer.mtype, plaintext[0], outer.mid, outer.token, options,
                        inner.payload)


def _oscore_option(msg):
    value = msg.option(OPT_OSCORE)
    if value is None:
        raise NotProtected("no OSCORE option")
    if not msg.payload:
        raise OscoreError("no ciphertext")
    return parse_option(value)


def _open(cipher, nonce, outer, request):
    try:
        return decrypt(cipher, nonce, outer.payload, aad(request.kid, request.piv))
    except (TagMismatch, ValueError):
        raise OscoreError("decryption failed")


class Endpoint:
    """One end of a security context: its keys (context.Context), its sender
    sequence (sequence.SenderSequence) and, for a node that takes requests,
    its replay window (sequence.ReplayWindow)."""

    def __init__(self, context, sequence, window=None):
        self.context = context
        self.sequence = sequence
        self.window = window

    # The node as a client: its requests, the gateway's responses.

    def protect_request(self, msg, kid_context=True):
        """The protected request for `msg` (a coap.Message, its header kept)
        and the Request the response is verified with. kid_context: send the
        ID Context (when the context has one)."""
        ctx = self.context
        piv = piv_bytes(self.sequence.take())
        nonce = ctx.nonce(ctx.sender_id, piv)
        request = Request(ctx.sender_id, piv, nonce)
        outer, plaintext = _split(msg)
        kctx = ctx.id_context if kid_context else None
        outer.append((OPT_OSCORE, option_value(piv, ctx.sender_id, kctx)))
        payload = encrypt(ctx.sender_cipher, nonce, plaintext, aad(ctx.sender_id, piv))
        return coap.Message(msg.mtype, coap.POST, msg.mid, msg.token, outer, payload), request

    def unprotect_response(self, outer, request):
        """The response inside protected response `outer` to `request`;
        OscoreError when it does not verify."""
        piv, _, _ = _oscore_option(outer)
        ctx = self.context
        nonce = ctx.nonce(ctx.recipient_id, piv) if piv else request.nonce
        return _join(outer, _open(ctx.recipient_cipher, nonce, outer, request))

    # The node as a server: the gateway's requests, its answers.

    def unprotect_request(self, outer):
        """(the request inside protected request `outer`, its Request for the
        answer). OscoreError (with the code to answer) when it does not verify
        or is a replay; a verified request is never accepted again."""
        piv, kid, kid_context = _oscore_option(outer)
        ctx = self.context
        if not piv:
            raise OscoreError("request without Partial IV")
        if kid != ctx.recipient_id:
            raise UnknownContext("unknown kid")
        if kid_context is not None and kid_context != ctx.id_context:
            raise UnknownContext("unknown ID context")
        n = piv_int(piv)
        window = self.window
        if window is not None and window.seen(n):
            raise Replayed("replay detected")
        request = Request(kid, piv, ctx.nonce(kid, piv))
        msg = _join(outer, _open(ctx.recipient_cipher, request.nonce, outer, request))
        if window is not None:
            window.accept(n)
        return msg, request

    def protect_response(self, msg, request, new_piv=False):
        """The protected response for `msg` answering `request`. new_piv: a
        Partial IV of this end's own, instead of reusing the request's nonce
        (needed only when one request gets several responses)."""
        ctx = self.context
        outer, plaintext = _split(msg)
        if new_piv:
            piv = piv_bytes(self.sequence.take())
            nonce = ctx.nonce(ctx.sender_id, piv)
        else:
            piv = b""
            nonce = request.nonce
        outer.append((OPT_OSCORE, option_value(piv)))
        payload = encrypt(ctx.sender_cipher, nonce, plaintext, aad(request.kid, request.piv))
        return coap.Message(msg.mtype, coap.CHANGED, msg.mid, msg.token, outer, payload)
