// A virtual ESP32 node behind a serial device: the host side. It starts
// the node's chip (vm.mjs) on a worker thread and carries everything
// between the chip and the world: the serial line (a pty's master, or a TCP
// server that pyserial reaches as socket://HOST:PORT), real UDP sockets for
// the chip's datagrams, the serial log, and control lines on stdin.
//
//   node sim/vnode/host.mjs CONFIG.json
//
// CONFIG: {name, serial: {pty_fd} | {tcp_port}, log, port_dir, clock_scale,
//          max_sleep_ms, wifi: {ssid: password}, board: {wiring, street}}
//          (sim/virtual_node.py writes it)
// stdout: one JSON line {"device": ...} once the serial side is up, then one
// JSON line per answer. stdin: JSON lines {"t": "set", "id", "values"},
// {"t": "button"}, {"t": "status", "id"}. The host ends when stdin closes.
import dgram from "node:dgram";
import dns from "node:dns";
import fs from "node:fs";
import net from "node:net";
import readline from "node:readline";
import tty from "node:tty";
import { MessageChannel, Worker } from "node:worker_threads";
import { poster } from "./inbox.mjs";

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
// Output held for a reader that is not reading, before it is dropped: a USB
// serial adapter and its driver buffer a few KB.
const BACKLOG = 4096;

const signal = new SharedArrayBuffer(4);
const { port1, port2 } = new MessageChannel();
const toChip = poster(signal, port1);
const worker = new Worker(new URL("./vm.mjs", import.meta.url), {
  workerData: { cfg, signal, port: port2 }, transferList: [port2],
});
const log = cfg.log ? fs.openSync(cfg.log, "a") : null;

// --- the serial line ---------------------------------------------------------
let writeSerial = () => {};

function openTcp(port) {
  let client = null;
  const server = net.createServer((sock) => {
    // One program holds a serial port at a time: the newest wins.
    if (client) client.destroy();
    client = sock;
    sock.setNoDelay(true);
    sock.on("data", (data) => toChip({ t: "serial", data }));
    sock.on("error", () => {});
    sock.on("close", () => {
      if (client === sock) client = null;
    });
  });
  writeSerial = (data) => {
    // Nobody reading: bytes go nowhere, as from a UART with no host.
    if (client && client.writableLength < BACKLOG) client.write(data);
  };
  server.listen(port, "127.0.0.1", () => {
    ready(`socket://127.0.0.1:${server.address().port}`);
  });
}

function openPty(fd) {
  const input = new tty.ReadStream(fd);
  input.on("data", (data) => toChip({ t: "serial", data }));
  input.on("error", () => {}); // the other end closed: the host stops soon
  let queue = [];
  let queued = 0;
  let timer = null;
  const drain = () => {
    timer = null;
    while (queue.length) {
      let n;
      try {
        n = fs.writeSync(fd, queue[0]);
      } catch (e) {
        if (e.code !== "EAGAIN") {
          queue = [];
          queued = 0;
          return;
        }
        n = 0;
      }
      queued -= n;
      if (n < queue[0].length) {
        queue[0] = queue[0].subarray(n);
        timer = setTimeout(drain, 5);
        return;
      }
      queue.shift();
    }
  };
  writeSerial = (data) => {
    // The pty holds a few KB unread; past our backlog too, the oldest goes.
    queue.push(Buffer.from(data));
    queued += data.length;
    while (queued > BACKLOG && queue.length > 1) queued -= queue.shift().length;
    if (!timer) drain();
  };
  ready("pty");
}

function announce(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

// The device is announced once both its serial side listens and the chip
// has booted its first VM, so that a failing start is seen as one.
let device = null;
let chipReady = false;
function ready(dev) {
  if (dev) device = dev;
  else chipReady = true;
  if (device && chipReady) announce({ device });
}

// --- UDP for the chip ----------------------------------------------------------
const sockets = new Map(); // sid -> dgram socket

function udpSocket(sid, address, port, done) {
  const sock = dgram.createSocket("udp4");
  sock.on("message", (data, rinfo) => {
    toChip({ t: "udp", sid, data, ip: rinfo.address, port: rinfo.port });
  });
  sock.on("error", () => {});
  sock.once("error", (e) => done && done(e));
  sock.bind({ address, port }, () => done && done(null));
  sockets.set(sid, sock);
  return sock;
}

function closeSocket(sid) {
  const s = sockets.get(sid);
  if (s) {
    sockets.delete(sid);
    try {
      s.close();
    } catch {
      /* already closed */
    }
  }
}

const loopback = (ip) => ip.startsWith("127.");

worker.on("message", (m) => {
  switch (m.t) {
    case "out":
      if (log !== null) fs.writeSync(log, m.data);
      writeSerial(m.data);
      break;
    case "udp_bind":
      closeSocket(m.sid);
      udpSocket(m.sid, m.ip, m.port, (e) => {
        toChip({ t: "reply", id: m.id, errno: e ? (e.code === "EADDRINUSE" ? 112 : 22) : 0 });
      });
      break;
    case "udp_send": {
      // An unbound socket gets a port of its own on first send, on loopback
      // when that is where it sends.
      const s = sockets.get(m.sid)
        || udpSocket(m.sid, loopback(m.ip) ? "127.0.0.1" : "0.0.0.0", 0, null);
      s.send(m.data, m.port, m.ip, () => {});
      break;
    }
    case "udp_close":
      closeSocket(m.sid);
      break;
    case "udp_close_all":
      for (const sid of [...sockets.keys()]) closeSocket(sid);
      break;
    case "resolve":
      dns.lookup(m.host, { family: 4 }, (err, ip) => toChip({ t: "reply", id: m.id, ip: err ? null : ip }));
      break;
    case "answer":
      announce(m);
      break;
    case "ready":
      ready(null);
      break;
    default:
      break;
  }
});

worker.on("error", (e) => {
  // The stack for whoever reads the log, then one line that says what broke.
  process.stderr.write(`${e.stack || e}\nvirtual node stopped: ${e.message || e}\n`);
  process.exit(1);
});
worker.on("exit", (code) => {
  process.stderr.write(`virtual node stopped (exit ${code})\n`);
  process.exit(1);
});

// --- control -------------------------------------------------------------------
const control = readline.createInterface({ input: process.stdin });
control.on("line", (text) => {
  let m;
  try {
    m = JSON.parse(text);
  } catch {
    return;
  }
  toChip(m);
});
control.on("close", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));

if (cfg.serial.pty_fd !== undefined) openPty(cfg.serial.pty_fd);
else openTcp(cfg.serial.tcp_port || 0);
