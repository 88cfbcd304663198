// The node's Wi-Fi station and its UDP sockets. The street's access points
// are a map SSID -> password; joining takes a moment, and a wrong password
// or an unknown SSID ends as on the ESP32 (status 202 / 201). Datagrams go
// out over real UDP through the host thread (dgram), and come back through
// the inbox; with the station down, nothing goes out and nothing comes in.

export const STAT = {
  IDLE: 1000, CONNECTING: 1001, GOT_IP: 1010,
  BEACON_TIMEOUT: 200, NO_AP_FOUND: 201, WRONG_PASSWORD: 202, ASSOC_FAIL: 203,
};
const JOIN_MS = 300; // association, handshake and DHCP on a good signal
const FAIL_MS = 1500; // a refused handshake or a scan that finds nothing
const QUEUE = 16; // datagrams a socket holds unread before it drops new ones

export const EHOSTUNREACH = 118;
export const EBADF = 9;
export const EADDRINUSE = 112;

function ipv4(host) {
  const parts = host.split(".");
  if (parts.length !== 4) return null;
  for (const p of parts) if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
  return host;
}

export class Network {
  constructor(street, clock, host) {
    this.street = street; // {ssid: password}
    this.clock = clock; // virtual ms
    this.host = host; // {post(msg), rpc(msg) -> reply}
    this.sockets = new Map(); // sid -> {queue: [...]}
    this.nextSid = 1;
    this.powerOff();
  }

  /** A hard reset: the radio off, every socket gone. */
  powerOff() {
    this.active = false;
    this.state = STAT.IDLE;
    this.until = 0; // when the current attempt ends
    this.target = STAT.IDLE; // how it ends
    this.ssid = "";
    this.closeAll();
  }

  // --- the station -------------------------------------------------------
  setActive(on) {
    this.active = on;
    if (!on) this.disconnect();
  }

  connect(ssid, key) {
    if (!this.active) return "Wifi Not Started";
    if (this.status() === STAT.CONNECTING) return "Wifi Internal Error";
    this.ssid = ssid;
    this.state = STAT.CONNECTING;
    const known = Object.prototype.hasOwnProperty.call(this.street, ssid);
    if (!known) {
      [this.target, this.until] = [STAT.NO_AP_FOUND, this.clock() + FAIL_MS];
    } else if (this.street[ssid] !== key) {
      [this.target, this.until] = [STAT.WRONG_PASSWORD, this.clock() + FAIL_MS];
    } else {
      [this.target, this.until] = [STAT.GOT_IP, this.clock() + JOIN_MS];
    }
    return "";
  }

  disconnect() {
    this.state = STAT.IDLE;
    this.target = STAT.IDLE;
  }

  status() {
    if (this.state === STAT.CONNECTING && this.clock() >= this.until) this.state = this.target;
    return this.state;
  }

  connected() {
    return this.active && this.status() === STAT.GOT_IP;
  }

  rssi() {
    return this.connected() ? -58 : null;
  }

  scan() {
    if (!this.active) return null;
    return Object.keys(this.street).map((ssid, i) => [ssid, -52 - 6 * i, 1 + 5 * (i % 3)]);
  }

  // --- sockets -------------------------------------------------------------
  open() {
    const sid = this.nextSid++;
    this.sockets.set(sid, { queue: [] });
    return sid;
  }

  bind(sid, ip, port) {
    if (!this.sockets.has(sid)) return EBADF;
    const reply = this.host.rpc({ t: "udp_bind", sid, ip, port });
    return reply.errno || 0;
  }

  sendto(sid, data, ip, port) {
    if (!this.sockets.has(sid)) return EBADF;
    if (!this.connected()) return EHOSTUNREACH;
    this.host.post({ t: "udp_send", sid, data, ip, port });
    return 0;
  }

  /** The oldest datagram waiting on sid ({data, ip, port}), or null. */
  take(sid) {
    const s = this.sockets.get(sid);
    return s && s.queue.length ? s.queue.shift() : null;
  }

  deliver(msg) {
    const s = this.sockets.get(msg.sid);
    if (!s || !this.connected() || s.queue.length >= QUEUE) return;
    s.queue.push(msg);
  }

  close(sid) {
    if (this.sockets.delete(sid)) this.host.post({ t: "udp_close", sid });
  }

  closeAll() {
    this.sockets.clear();
    this.host.post({ t: "udp_close_all" });
  }

  /** An IPv4 address for host, or null (no DNS without Wi-Fi). */
  resolve(host) {
    const literal = ipv4(host);
    if (literal) return literal;
    if (!this.connected()) return null;
    if (host === "localhost") return "127.0.0.1";
    const reply = this.host.rpc({ t: "resolve", host });
    return reply.ip || null;
  }
}
