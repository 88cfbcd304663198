// What the ESP32 keeps across which reset. Each boot runs in a fresh
// MicroPython VM; what a real chip keeps lives here, outside it:
//   flash files and NVS      always (flash)
//   RTC memory and RTC time  across soft reset, machine.reset(), the watchdog
//                            and deep sleep; lost at power-on (and the EN button)
//   the watchdog             until any reset, a soft reset included
export const CAUSE = { PWRON: 1, HARD: 2, WDT: 3, DEEPSLEEP: 4, SOFT: 5 };
export const WAKE = { NONE: 0, TIMER: 4 };
const ESP32_EPOCH_MS = 946684800000; // 2000-01-01, where an unset RTC starts

// The first-boot boot.py that MicroPython's ESP32 port writes to a new flash.
const BOOT_PY = "# This file is executed on every boot (including wake-boot from deepsleep)\n"
  + "#import esp\n#esp.osdebug(None)\n#import webrepl\n#webrepl.start()\n";

export class Chip {
  constructor(name) {
    this.files = new Map(); // "/path" -> Uint8Array
    this.dirs = new Set(); // "/dir"
    this.nvs = new Map(); // "namespace\0key" -> {type, value}
    this.mac = macFor(name);
    this.files.set("/boot.py", new TextEncoder().encode(BOOT_PY));
    this.powerOn();
  }

  powerOn() {
    this.rtcMemory = new Uint8Array(0);
    // The RTC counts from 2000-01-01 until NTP or RTC.datetime() sets it.
    this.rtcOffsetMs = ESP32_EPOCH_MS - Date.now();
    this.cause = CAUSE.PWRON;
    this.wake = WAKE.NONE;
    this.wdt = null;
  }

  /** Any reset other than power-on: `cause` from CAUSE. */
  reset(cause) {
    this.cause = cause;
    this.wake = cause === CAUSE.DEEPSLEEP ? WAKE.TIMER : WAKE.NONE;
    this.wdt = null;
  }

  rtcUnixMs() {
    return Date.now() + this.rtcOffsetMs;
  }

  setRtcUnixMs(ms) {
    this.rtcOffsetMs = ms - Date.now();
  }

  startWdt(timeoutMs, now) {
    this.wdt = { timeout: timeoutMs, deadline: now + timeoutMs };
  }

  feedWdt(now) {
    if (this.wdt) this.wdt.deadline = now + this.wdt.timeout;
  }

  wdtExpired(now) {
    return this.wdt !== null && now > this.wdt.deadline;
  }

  /** ms of virtual time until the watchdog fires, or Infinity. */
  wdtLeft(now) {
    return this.wdt === null ? Infinity : Math.max(0, this.wdt.deadline - now);
  }

  /** Copy the VM's flash directory into the chip (before its VM goes). */
  saveFlash(FS, root) {
    this.files = new Map();
    this.dirs = new Set();
    const walk = (dir, rel) => {
      for (const name of FS.readdir(dir)) {
        if (name === "." || name === "..") continue;
        const path = `${dir}/${name}`;
        const stat = FS.stat(path);
        if (FS.isDir(stat.mode)) {
          this.dirs.add(`${rel}/${name}`);
          walk(path, `${rel}/${name}`);
        } else {
          this.files.set(`${rel}/${name}`, FS.readFile(path));
        }
      }
    };
    walk(root, "");
  }

  /** Put the flash's files into a new VM's directory `root`. */
  loadFlash(FS, root) {
    FS.mkdir(root);
    for (const d of [...this.dirs].sort()) FS.mkdir(root + d);
    for (const [path, data] of this.files) FS.writeFile(root + path, data);
  }

  nvsGet(ns, key) {
    return this.nvs.get(`${ns}\0${key}`) ?? null;
  }

  nvsSet(ns, key, entry) {
    this.nvs.set(`${ns}\0${key}`, entry);
  }

  nvsErase(ns, key) {
    return this.nvs.delete(`${ns}\0${key}`);
  }
}

/** A stable Espressif-style MAC for a node name. */
function macFor(name) {
  let h = 2166136261;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return [0x24, 0x0a, 0xc4, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
}
