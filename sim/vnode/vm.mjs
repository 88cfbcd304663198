// The virtual node's ESP32, on its own thread: MicroPython's WebAssembly
// VM running the simulated port (sim/vnode/port) over the simulated board,
// its REPL on the serial line, and the resets, deep sleeps and watchdog of
// a real chip. Each boot gets a fresh VM; what a chip keeps across resets
// is in chip.mjs.
//
// The VM runs synchronously, so everything that must happen while Python
// runs (serial bytes, Ctrl-C, datagrams, the watchdog) is serviced from the
// VM's own calls out to JavaScript: its clock (which time.sleep_ms spins
// on), a frequent internal call, and the port's functions.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import { Board } from "./board.mjs";
import { CAUSE, Chip } from "./chip.mjs";
import { Inbox } from "./inbox.mjs";
import { Network } from "./network.mjs";
import { portApi, Reset } from "./port_api.mjs";
import { Repl } from "./repl.mjs";
import { SerialLine } from "./serial_line.mjs";

const cfg = workerData.cfg;
const scale = cfg.clock_scale || 1;
const POLL_EVERY = 2048; // internal calls between two looks at the inbox
const MACHINE = "Virtual with ESP32"; // same length as the port's own name
const ROM = {
  power: "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
  reset: "rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
  deepsleep: "rst:0x5 (DEEPSLEEP_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
};
ROM.button = ROM.power;
ROM.wdt = ROM.reset;
const CAUSES = { reset: CAUSE.SOFT, wdt: CAUSE.WDT, deepsleep: CAUSE.DEEPSLEEP };

// --- the parts ---------------------------------------------------------------
const post = (m) => parentPort.postMessage(m);
const line = new SerialLine(post);
const repl = new Repl(line);
const board = new Board(cfg.board || {});
const chip = new Chip(cfg.name || "vnode");
let bootAt = performance.now();
const clock = () => (performance.now() - bootAt) * scale;

const replies = new Map();
let rpcId = 0;
function rpc(msg) {
  const id = ++rpcId;
  post({ ...msg, id });
  const until = performance.now() + 5000;
  while (!replies.has(id)) {
    if (performance.now() > until) return { errno: 110 };
    inbox.wait(50);
  }
  const reply = replies.get(id);
  replies.delete(id);
  return reply;
}
const net = new Network(cfg.wifi || {}, clock, { post, rpc });

let M = null; // the running VM's Emscripten module, while one runs
let asleep = false; // deep sleep: the UART is off, the line's bytes are lost
let button = false; // the EN button was pressed
let interrupts = 0;
let tickJump = 0;

const inbox = new Inbox(workerData.signal, workerData.port, (m) => {
  switch (m.t) {
    case "serial": return onSerial(m.data);
    case "udp": return net.deliver(m);
    case "reply": return replies.set(m.id, m);
    case "set": return control(m, () => board.set(m.values));
    case "button": button = true; return undefined;
    case "status": return control(m, () => ({ ...board.status(), wifi: net.status() }));
    default: return undefined;
  }
});

function control(m, act) {
  try {
    post({ t: "answer", id: m.id, ok: true, value: act() ?? null });
  } catch (e) {
    post({ t: "answer", id: m.id, ok: false, error: e.message });
  }
}

function onSerial(data) {
  if (asleep) return;
  const ic = M ? M._mp_hal_get_interrupt_char() : -1;
  for (const b of data) {
    if (b === ic) interrupt();
    else line.rx.push(b);
  }
}

function interrupt() {
  M._mp_sched_keyboard_interrupt();
  interrupts++;
  // time.sleep_ms spins until the clock has moved `ms` on; a jump of 2^30 ms
  // ends any such wait at once, and Python's ticks (which wrap at 2^30)
  // never see it.
  tickJump = (tickJump + 2 ** 30) % 2 ** 32;
}

/** A Ctrl-C that came before the program started interrupts it too. */
function rxInterrupt() {
  const i = line.rx.indexOf(0x03);
  if (i >= 0 && M && M._mp_hal_get_interrupt_char() === 0x03) {
    line.rx.splice(i, 1);
    interrupt();
  }
}

/** Everything that must happen while Python runs. May throw a Reset. */
function service() {
  if (inbox.pending()) inbox.drain();
  if (!M) return;
  if (button) throw new Reset("button");
  if (chip.wdtExpired(clock())) throw new Reset("wdt");
  line.flushIfDue();
}

/** One wait of up to `ms` of node time for whatever comes. */
function pause(ms) {
  line.flush();
  inbox.wait(Math.max(1, ms / scale));
}

/** Wait `ms` of node time; false if a Ctrl-C cut it short. */
function sleep(ms) {
  const end = clock() + ms;
  const marks = interrupts;
  while (clock() < end) {
    service();
    if (interrupts !== marks) return false;
    pause(Math.min(end - clock(), 50));
  }
  return true;
}

/** Bytes of files in the running VM's flash directory. */
function flashUsed() {
  const FS = M.FS;
  const walk = (dir) => {
    let total = 0;
    for (const name of FS.readdir(dir)) {
      if (name === "." || name === "..") continue;
      const st = FS.stat(`${dir}/${name}`);
      total += FS.isDir(st.mode) ? walk(`${dir}/${name}`) : st.size;
    }
    return total;
  };
  return walk("/flash");
}

const api = portApi({
  board, chip, net, clock, sleep, pause, service, rxInterrupt, flashUsed,
  interrupts: () => interrupts,
});

// --- hooks into the VM's calls out -------------------------------------------
let lastTick = 0;
let spins = 0;
function ticksMs() {
  const t = performance.now();
  spins = t - lastTick < 0.05 ? spins + 1 : 0;
  if (spins > 4) pause(1); // spinning on the clock: a sleep; give the CPU up
  lastTick = performance.now();
  service();
  return (Math.floor(clock()) + tickJump) >>> 0;
}

// The WebAssembly libc numbers errno as WASI does (ENOENT is 44); MicroPython's
// errno module, and so every program and mpremote, expects Linux's numbers.
const ERRNO = {
  1: 7, 2: 13, 3: 98, 6: 11, 8: 9, 10: 16, 20: 17, 22: 27, 28: 22, 29: 5, 31: 21, 33: 24,
  37: 36, 41: 23, 43: 19, 44: 2, 48: 12, 51: 28, 52: 38, 54: 20, 55: 39, 58: 95, 59: 25,
  63: 1, 64: 32, 69: 30, 70: 29, 73: 18,
};
function linuxErrno(imports) {
  for (const [ns, sign] of [["env", -1], ["wasi_snapshot_preview1", 1]]) {
    for (const [name, f] of Object.entries(imports[ns])) {
      if (!name.startsWith(ns === "env" ? "__syscall_" : "fd_")) continue;
      imports[ns][name] = (...args) => {
        const r = f(...args);
        return r * sign > 0 && ERRNO[r * sign] !== undefined ? ERRNO[r * sign] * sign : r;
      };
    }
  }
}

let wasmModule = null;
let memory = null;
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async function (binary, imports) {
  const env = imports.env;
  linuxErrno(imports);
  env.mp_js_ticks_ms = ticksMs;
  env.mp_js_time_ms = () => chip.rtcUnixMs();
  const invoke = env.invoke_ii;
  let budget = POLL_EVERY;
  env.invoke_ii = (i, a) => {
    if (--budget <= 0) {
      budget = POLL_EVERY;
      service();
    }
    return invoke(i, a);
  };
  wasmModule ??= new WebAssembly.Module(binary);
  const instance = await instantiate.call(this, wasmModule, imports);
  memory = instance.exports.memory;
  return { module: wasmModule, instance };
};
const { loadMicroPython } = await import("@micropython/micropython-webassembly-pyscript");

// --- one boot ----------------------------------------------------------------
const portFiles = readdirSync(cfg.port_dir)
  .filter((n) => /\.m?py$/.test(n) && !n.startsWith("__init__."))
  .map((n) => [n, readFileSync(join(cfg.port_dir, n))]);
const portModules = portFiles.map(([n]) => n.replace(/\.m?py$/, "")).filter((n) => !n.startsWith("_"));
// `time` first: the others import it.
portModules.sort((a, b) => (a === "time" ? -1 : b === "time" ? 1 : a.localeCompare(b)));

const SETUP = `
def _vnode_setup():
    import os, sys
    from collections import namedtuple
    sys.path.insert(0, '/.vnode')
    try:
${portModules.map((m) => `        __import__(${JSON.stringify(m)})`).join("\n")}
        from _flashfs import Flash
    finally:
        sys.path.pop(0)
    # On the ESP32 the u-names are the same modules.
    sys.modules['utime'] = sys.modules['time']
    sys.modules['usocket'] = sys.modules['socket']
    v = sys.implementation.version
    release = '%d.%d.%d' % (v[0], v[1], v[2])
    u = namedtuple('uname_result', ('sysname', 'nodename', 'release', 'version', 'machine'))(
        'esp32', 'esp32', release, 'v%s on 2025-12-10' % release, ${JSON.stringify(MACHINE)})
    os.uname = lambda: u
    os.umount('/')
    os.mount(Flash('/flash'), '/')
    os.chdir('/')
_vnode_setup()
del _vnode_setup
`;

const RUN = (path) => `
def _vnode_run():
    import io, micropython, sys, _vnode
    micropython.kbd_intr(3)
    _vnode.exec_begin()
    try:
        execfile(${JSON.stringify(path)})
    except SystemExit:
        pass
    except BaseException as e:
        # As pyexec prints it: the script's own frames, not this runner's.
        buf = io.StringIO()
        sys.print_exception(e, buf)
        for line in buf.getvalue().split("\\n")[:-1]:
            if "in _vnode_run" not in line:
                print(line)
    micropython.kbd_intr(-1)
_vnode_run()
del _vnode_run
`;

let machineAt = -1;
function nameTheBoard() {
  // The port calls itself "JS with Emscripten" in its banner and in
  // sys.implementation; a node says what board it is.
  const heap = Buffer.from(memory.buffer);
  const from = Buffer.from("; JS with Emscripten\0");
  if (machineAt < 0 || heap.subarray(machineAt, machineAt + from.length).compare(from) !== 0) {
    machineAt = heap.indexOf(from);
  }
  if (machineAt >= 0) heap.write(`; ${MACHINE}\0`, machineAt, "latin1");
}

/** sys.stdin: the line's next byte, waiting for it; end of file on Ctrl-C. */
function stdinByte() {
  const marks = interrupts;
  while (!line.rx.length) {
    if (interrupts !== marks) return null;
    service();
    pause(50);
  }
  return line.rx.shift();
}

async function loadVm() {
  const out = (bytes) => {
    for (const b of bytes) line.write(b);
  };
  const mp = await loadMicroPython({
    // The ESP32 keeps Python frames on its C stack (a big list literal's
    // frame fits there); the WebAssembly port's Python stack must match that.
    pystack: 16384, heapsize: 128 * 1024, linebuffer: false, stdout: out, stderr: out,
    stdin: stdinByte,
  });
  nameTheBoard();
  chip.loadFlash(mp.FS, "/flash");
  mp.FS.mkdir("/.vnode");
  for (const [name, data] of portFiles) mp.FS.writeFile(`/.vnode/${name}`, data);
  mp.registerJsModule("_vnode", api);
  mp.runPython(SETUP);
  return mp;
}

function runScript(mp, path) {
  if (!chip.files.has(`/${path}`)) return;
  try {
    mp.runPython(RUN(path));
  } catch (e) {
    if (e.name !== "PythonError") throw e;
    line.writeText(`${e.message}\r\n`);
  }
}

function startRepl(mp) {
  if (!repl.raw) {
    mp.replInit();
  } else {
    // A soft reset in the raw REPL comes back in it (as pyexec does).
    line.muted = true;
    mp.replInit();
    mp.replProcessChar(0x01);
    line.muted = false;
    line.writeText("raw REPL; CTRL-B to exit\r\n>");
  }
  repl.attach(mp);
}

/** Boot after `kind` ("power", "soft", ...) until the next reset: its Reset. */
async function boot(kind) {
  const hard = kind !== "soft";
  if (hard) {
    bootAt = performance.now();
    button = false;
    line.rx = [];
    board.powerOn();
    net.powerOff();
    repl.raw = false;
    if (kind === "power" || kind === "button") chip.powerOn();
    else chip.reset(CAUSES[kind]);
    line.writeText(`ets Jul 29 2019 12:21:46\r\n\r\n${ROM[kind]}\r\n`);
  } else {
    chip.wdt = null;
    net.closeAll();
  }
  const mp = await loadVm();
  M = mp._module;
  if (kind === "power") post({ t: "ready" }); // the chip runs: the host may say so
  try {
    // boot.py always; main.py only when the friendly REPL is to follow
    // (mpremote's soft reset in the raw REPL skips it), as on the ESP32.
    runScript(mp, "boot.py");
    if (!repl.raw) runScript(mp, "main.py");
    startRepl(mp);
    for (;;) {
      if (!line.rx.length) {
        pause(Math.min(50, chip.wdtLeft(clock()) + 1));
        service();
        continue;
      }
      if (repl.run()) return new Reset("soft");
    }
  } catch (e) {
    if (e instanceof Reset) return e;
    // A fault of the simulation itself: say so on the line, and restart as
    // a panicking chip would.
    line.writeText(`\r\nvirtual node fault: ${e && e.stack ? e.stack : e}\r\n`);
    process.stderr.write(`virtual node fault: ${e && e.stack ? e.stack : e}\n`);
    return new Reset("reset");
  } finally {
    M = null;
    chip.saveFlash(mp.FS, "/flash");
    line.flush();
  }
}

/** Deep sleep or the ROM's download mode: nothing runs, the line is deaf. */
function lieStill(realMs) {
  line.flush();
  asleep = true;
  const end = performance.now() + realMs;
  while (!button && performance.now() < end) inbox.wait(Math.min(1000, end - performance.now()));
  asleep = false;
}

let kind = "power";
for (;;) {
  const r = await boot(kind);
  if (r.kind === "soft") {
    line.writeText("MPY: soft reboot\r\n");
    kind = "soft";
    continue;
  }
  if (r.kind === "wdt") line.writeText("\r\nE (task_wdt) Task watchdog got triggered: machine.WDT not fed in time\r\n");
  if (r.kind === "deepsleep") {
    const cap = cfg.max_sleep_ms ?? Infinity;
    lieStill(Math.min(r.ms > 0 ? r.ms / scale : Infinity, cap));
  } else if (r.kind === "bootloader") {
    line.writeText("ets Jul 29 2019 12:21:46\r\n\r\nrst:0xc (SW_CPU_RESET),boot:0x3 "
      + "(DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n");
    lieStill(Infinity);
  }
  kind = button ? "button" : r.kind === "bootloader" ? "power" : r.kind;
}
