// `_vnode`: what the simulated port's Python modules (sim/vnode/port) call
// to reach the board, the chip's lasting state and the network. Only
// numbers, strings, booleans and null cross: bytes go as hex, lists as
// JSON, so that no Python object is ever held from JavaScript (a VM is
// thrown away at every reset).

import { crc8 } from "./board.mjs";

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const unhex = (text) => [...Buffer.from(text, "hex")];
const EAGAIN = 11;
const ETIMEDOUT = 110;

export class Reset extends Error {
  /** kind: "reset" | "soft" | "deepsleep" | "bootloader" | "wdt" | "button" */
  constructor(kind, ms = 0) {
    super(kind);
    this.kind = kind;
    this.ms = ms;
  }
}

/**
 * node: {board, chip, net, clock(): virtual ms since boot, sleep(ms): an
 *        interruptible wait, pause(ms): one wait step, service(),
 *        interrupts(): Ctrl-Cs so far, rxInterrupt()}
 */
export function portApi(node) {
  const { board, chip, net } = node;
  const nvsPending = new Map(); // "ns\0key" -> entry or null (erased); until commit

  return {
    // --- GPIO, ADC, PWM ----------------------------------------------------
    pin_init: (id, mode, pull, value) => board.pinInit(id, mode, pull, value),
    pin_write: (id, v) => board.pinWrite(id, v),
    pin_read: (id) => board.pinRead(id),
    pulse_us(id, level, timeoutUs) {
      const [result, us] = board.pulse(id, level, timeoutUs);
      node.sleep(us / 1000);
      return result;
    },
    adc_uv: (id) => board.adcUv(id),
    pwm: (id, freq, duty) => board.pwm(id, freq, duty),

    // --- I2C and 1-Wire ----------------------------------------------------
    i2c_scan: (sda, scl) => board.i2cScan(sda, scl).join(","),
    i2c_read(sda, scl, addr, reg, n) {
      const dev = board.i2c(sda, scl, addr);
      return dev ? hex(dev.read(reg < 0 ? 0 : reg, n)) : null;
    },
    i2c_write(sda, scl, addr, reg, data) {
      const dev = board.i2c(sda, scl, addr);
      if (!dev) return false;
      const bytes = unhex(data);
      if (reg < 0) {
        if (bytes.length) dev.write(bytes[0], bytes.slice(1));
      } else {
        dev.write(reg, bytes);
      }
      return true;
    },
    ow_scan(id) {
      const t = board.thermometer(id);
      if (!t) return "";
      return hex([...t.rom, crc8(t.rom)]);
    },
    ow_convert(id) {
      if (!board.thermometer(id)) return false;
      board.convertTemp();
      return true;
    },
    ow_scratch: (id) => (board.thermometer(id) ? hex(board.scratchpad()) : null),
    ow_write_scratch(id, data) {
      if (board.thermometer(id)) board.writeScratch(unhex(data));
    },

    // --- RTC, watchdog, resets ---------------------------------------------
    rtc_memory: () => hex(chip.rtcMemory),
    rtc_memory_set(data) {
      chip.rtcMemory = Uint8Array.from(unhex(data));
    },
    rtc_set(unixSeconds) {
      chip.setRtcUnixMs(unixSeconds * 1000);
    },
    rtc_us: () => Math.floor(chip.rtcUnixMs() % 1000) * 1000,
    wdt_start: (ms) => chip.startWdt(ms, node.clock()),
    wdt_feed: () => chip.feedWdt(node.clock()),
    reset() {
      throw new Reset("reset");
    },
    soft_reset() {
      throw new Reset("soft");
    },
    deepsleep(ms) {
      throw new Reset("deepsleep", ms);
    },
    bootloader() {
      throw new Reset("bootloader");
    },
    reset_cause: () => chip.cause,
    wake_reason: () => chip.wake,
    unique_id: () => hex(chip.mac),
    flash_used: () => node.flashUsed(),
    /** A program starts: a Ctrl-C already on the line interrupts it. */
    exec_begin: () => node.rxInterrupt(),

    // --- NVS -----------------------------------------------------------------
    nvs_get(ns, key, type) {
      const k = `${ns}\0${key}`;
      const e = nvsPending.has(k) ? nvsPending.get(k) : chip.nvsGet(ns, key);
      return e && e.type === type ? e.value : null;
    },
    nvs_set(ns, key, type, value) {
      nvsPending.set(`${ns}\0${key}`, { type, value });
    },
    nvs_erase(ns, key) {
      const k = `${ns}\0${key}`;
      const had = nvsPending.has(k) ? nvsPending.get(k) !== null : chip.nvsGet(ns, key) !== null;
      if (had) nvsPending.set(k, null);
      return had;
    },
    nvs_commit(ns) {
      for (const [k, e] of nvsPending) {
        const [n, key] = k.split("\0");
        if (n !== ns) continue;
        if (e === null) chip.nvsErase(n, key);
        else chip.nvsSet(n, key, e);
        nvsPending.delete(k);
      }
    },

    // --- Wi-Fi -------------------------------------------------------------
    wlan_active(flag) {
      if (flag >= 0) net.setActive(!!flag);
      return net.active;
    },
    wlan_connect: (ssid, key) => net.connect(ssid, key),
    wlan_disconnect: () => net.disconnect(),
    wlan_status: () => net.status(),
    wlan_ssid: () => net.ssid,
    wlan_rssi: () => net.rssi(),
    wlan_scan() {
      const found = net.scan();
      return found === null ? null : JSON.stringify(found);
    },
    wlan_mac: () => hex(chip.mac),

    // --- UDP -----------------------------------------------------------------
    sock_open: () => net.open(),
    sock_bind: (sid, ip, port) => net.bind(sid, ip, port),
    sock_sendto: (sid, data, ip, port) => net.sendto(sid, Buffer.from(data, "hex"), ip, port),
    /** timeoutMs < 0: block. "ip port hex", or an errno. */
    sock_recv(sid, timeoutMs) {
      const end = timeoutMs < 0 ? Infinity : node.clock() + timeoutMs;
      const marks = node.interrupts();
      for (;;) {
        node.service();
        const d = net.take(sid);
        if (d) return `${d.ip} ${d.port} ${hex(d.data)}`;
        if (!net.sockets.has(sid)) return 9; // EBADF
        const left = end - node.clock();
        if (left <= 0 || node.interrupts() !== marks) return timeoutMs === 0 ? EAGAIN : ETIMEDOUT;
        node.pause(Math.min(left, 50));
      }
    },
    sock_close: (sid) => net.close(sid),
    resolve: (host) => net.resolve(host),
    /** NTP: the host's clock, if the station can reach a server. */
    ntp_set() {
      if (!net.connected()) return false;
      node.sleep(20); // a round trip to the pool
      chip.setRtcUnixMs(Date.now());
      return true;
    },
  };
}
