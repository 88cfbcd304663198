// Feeds the serial line's bytes into MicroPython's own REPL (the VM's
// event-driven friendly and raw REPL), and answers raw-paste mode on its
// behalf: the WebAssembly port's raw paste reads stdin in a loop that never
// yields, so the host side takes the pasted code with the protocol's flow
// control and hands it to the raw REPL as one command.
const RAW_BANNER = "raw REPL; CTRL-B to exit";
const WINDOW = 512; // raw-paste flow control: the window first announced
const CTRL_A = 0x01;
const CTRL_B = 0x02;
const CTRL_D = 0x04;
const CTRL_E = 0x05;

export class Repl {
  constructor(line) {
    this.line = line;
    this.raw = false; // which REPL the VM is in
    this.attach(null);
  }

  /** A new VM: its REPL starts with an empty line. */
  attach(vm) {
    this.vm = vm;
    this.empty = true; // raw REPL: nothing typed since the last prompt
    this.held = []; // a raw-paste request being recognised
    this.paste = null; // {code, count} while raw-paste data comes in
  }

  /** Feed what the line holds; true when the REPL asked for a soft reset. */
  run() {
    const rx = this.line.rx;
    while (rx.length) {
      const b = rx.shift();
      if (this.paste) {
        if (this.pasteByte(b)) return true;
        if (!rx.length && this.paste) this.credit();
        continue;
      }
      if (this.held.length || (this.raw && this.empty && b === CTRL_E)) {
        const h = this.held;
        h.push(b);
        if (h.length === 1 || (h.length === 2 && h[1] === 0x41)) continue; // Ctrl-E, "A"
        this.held = [];
        if (h.length === 3 && h[2] === CTRL_A) {
          this.startPaste();
          continue;
        }
        for (const x of h) if (this.feed(x)) return true;
        continue;
      }
      if (this.feed(b)) return true;
    }
    return false;
  }

  feed(b) {
    const modeKey = b === CTRL_A || b === CTRL_B;
    if (modeKey) this.line.capture = [];
    const ret = this.vm.replProcessChar(b);
    if (modeKey) {
      const said = Buffer.from(this.line.capture).toString("latin1");
      this.line.capture = null;
      if (said.includes(RAW_BANNER)) this.raw = true;
      else if (said.includes(">>> ")) this.raw = false;
    }
    // After Ctrl-A..D the raw REPL's line is empty again.
    this.empty = b >= CTRL_A && b <= CTRL_D;
    return ret !== 0;
  }

  /** Room for another window as soon as data came: the host never waits
   * on flow control (its buffer is unbounded), nor on a delayed TCP ACK. */
  credit() {
    if (!this.paste.count) return;
    this.paste.count = 0;
    this.line.push(CTRL_A);
    this.line.flush();
  }

  startPaste() {
    this.paste = { code: [], count: 0 };
    for (const b of [0x52, 0x01, WINDOW & 0xff, WINDOW >> 8]) this.line.push(b); // "R\x01" + window
    this.line.flush();
  }

  pasteByte(b) {
    const p = this.paste;
    if (b !== CTRL_D) {
      p.code.push(b);
      p.count++;
      return false;
    }
    this.paste = null;
    this.line.push(CTRL_D); // end of data acknowledged
    this.line.flush();
    for (const c of p.code) if (this.feed(c)) return true;
    // Raw paste answers the command with its output alone: no "OK".
    this.line.swallow = [0x4f, 0x4b];
    return this.feed(CTRL_D);
  }
}
