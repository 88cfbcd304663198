// What reaches the node's thread while MicroPython runs on it synchronously.
// The host thread posts a message on a MessagePort and bumps a shared
// counter; this side blocks on the counter (Atomics.wait) and takes the
// messages with receiveMessageOnPort, so waiting never needs an event loop
// that the VM's synchronous run would starve.
import { receiveMessageOnPort } from "node:worker_threads";

export class Inbox {
  constructor(signal, port, handle) {
    this.sig = new Int32Array(signal);
    this.port = port;
    this.handle = handle; // called with each message
    // What the counter was at the last drain; none yet, so that messages
    // posted before this thread started are taken too.
    this.seen = -1;
  }

  pending() {
    return Atomics.load(this.sig, 0) !== this.seen;
  }

  drain() {
    // Read the counter first: a message posted meanwhile bumps it again, so
    // the next pending() still sees it.
    this.seen = Atomics.load(this.sig, 0);
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) {
      this.handle(m.message);
    }
  }

  /** Wait until something arrives or ms pass, then hand over what came. */
  wait(ms) {
    if (!this.pending() && ms > 0) Atomics.wait(this.sig, 0, this.seen, ms);
    if (this.pending()) this.drain();
  }
}

/** The host side: post a message and wake the node's thread. */
export function poster(signal, port) {
  const sig = new Int32Array(signal);
  return (message) => {
    port.postMessage(message);
    Atomics.add(sig, 0, 1);
    Atomics.notify(sig, 0);
  };
}
