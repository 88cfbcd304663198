// The node's USB serial line as the VM sees it: bytes out (collected and
// sent to the host thread in batches, newlines as "\r\n" like the ESP32's
// console) and bytes in (a queue the REPL and sys.stdin read).

const BATCH = 2048; // bytes held before they are sent
const LATENCY_MS = 10; // longest a byte waits to be sent while the VM runs

export class SerialLine {
  constructor(post) {
    this.post = post;
    this.out = [];
    this.last = 0; // the last byte put out, for newline cooking
    this.sentAt = performance.now();
    this.swallow = null; // bytes to drop from the output once (raw-paste's "OK")
    this.capture = null; // when an array, output is also copied here
    this.muted = false;
    this.rx = [];
  }

  write(byte) {
    if (this.muted) return;
    if (this.swallow) {
      if (byte === this.swallow[0]) {
        this.swallow = this.swallow.length > 1 ? this.swallow.slice(1) : null;
        return;
      }
      this.swallow = null;
    }
    if (byte === 10 && this.last !== 13) this.push(13);
    this.push(byte);
  }

  writeText(text) {
    for (const b of Buffer.from(text, "latin1")) this.push(b);
  }

  push(byte) {
    this.last = byte;
    this.out.push(byte);
    if (this.capture) this.capture.push(byte);
    if (this.out.length >= BATCH) this.flush();
  }

  flush() {
    this.sentAt = performance.now();
    if (!this.out.length) return;
    this.post({ t: "out", data: Uint8Array.from(this.out) });
    this.out = [];
  }

  flushIfDue() {
    if (this.out.length && performance.now() - this.sentAt >= LATENCY_MS) this.flush();
  }
}
