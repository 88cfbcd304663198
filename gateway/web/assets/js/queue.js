// The crew's taps, kept on the phone until the gateway has them: each tap
// gets its own id and is written to localStorage before anything is sent,
// sent again with the same id until the gateway answers, and removed only
// then. POST /api/v1/visits stores an id once (201, and 200 when it had it
// already), so a tap whose answer was lost on the way is recorded exactly
// once; 409 says the id was stored for another record, which the crew sees.

/** A random UUID (version 4); crypto.randomUUID needs HTTPS or localhost,
 * and a gateway on the city network may serve plain HTTP. */
export function uuid() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function" && isSecureContext) {
    return crypto.randomUUID();
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A stop's key: the same bin may be on tomorrow's plan too. */
export function stopKey(tap) {
  return `${tap.plan_id}/${tap.node_id}`;
}

export class TapQueue {
  /** owner: the account's name, so that two accounts on one phone keep
   * their taps apart. */
  constructor(owner, storage = localStorage) {
    this.storage = storage;
    this.key = `kvarter.crew.${owner}.queue`;
    this.doneKey = `kvarter.crew.${owner}.stops`;
    this.syncing = null;
    this.again = null;
  }

  _read(key, empty) {
    try {
      const v = JSON.parse(this.storage.getItem(key));
      return v === null ? empty : v;
    } catch (_) {
      return empty;
    }
  }

  /** Taps the gateway has not acknowledged yet, oldest first. */
  waiting() { return this._read(this.key, []); }

  /** Each stop's latest tap by "plan_id/node_id": {id, plan_id, node_id,
   * outcome, reason, at, state}, state being "waiting", "recorded" or
   * "refused" (with the gateway's detail). */
  stops() { return this._read(this.doneKey, {}); }

  _write(waiting, stops) {
    this.storage.setItem(this.key, JSON.stringify(waiting));
    this.storage.setItem(this.doneKey, JSON.stringify(stops));
  }

  /** A tap on a stop of a plan: kept at once, before any attempt to send it. */
  add(planId, nodeId, outcome, reason = null) {
    const tap = { id: uuid(), plan_id: planId, node_id: nodeId, outcome,
      reason: outcome === "unreachable" ? reason : null, at: Date.now() / 1000 };
    const stops = this.stops();
    stops[stopKey(tap)] = { ...tap, state: "waiting" };
    this._write([...this.waiting(), tap], stops);
    return tap;
  }

  _settle(tap, state, detail = null) {
    const waiting = this.waiting().filter((t) => t.id !== tap.id);
    const stops = this.stops();
    const key = stopKey(tap);
    if (stops[key] && stops[key].id === tap.id) stops[key] = { ...stops[key], state, detail };
    this._write(waiting, stops);
  }

  /** Send what waits, oldest first, one at a time. send(tap) resolves to
   * the HTTP status, or rejects when the network cannot be reached. Stops at
   * the first tap that cannot be delivered now (no network, the session
   * ended, the gateway failed), to try again later. Returns what is left. */
  sync(send) {
    if (this.syncing) {
      // A pass is under way, and may have looked at the queue already: a tap
      // made now would wait for the next retry (20 s later on the crew's
      // page). One more pass after it sends such a tap at once.
      if (!this.again) {
        const next = () => {
          this.again = null;
          return this.sync(send);
        };
        this.again = this.syncing.then(next, next);
      }
      return this.again;
    }
    const run = async () => {
      for (;;) {
        const [tap] = this.waiting();
        if (!tap) return 0;
        let status, detail;
        try {
          ({ status, detail } = await send(tap));
        } catch (_) {
          return this.waiting().length; // no signal: later
        }
        // 201 the first time, 200 when the gateway had this id already
        // (the answer to an earlier send was lost): recorded, once.
        if (status === 200 || status === 201) this._settle(tap, "recorded");
        else if (status === 401 || status === 429 || status >= 500) return this.waiting().length;
        else this._settle(tap, "refused", detail || `the gateway answered ${status}`);
      }
    };
    // One sender at a time, across the tabs of the phone's browser too.
    const locked = navigator.locks
      ? navigator.locks.request(this.key, run)
      : run();
    this.syncing = locked.finally(() => { this.syncing = null; });
    return this.syncing;
  }
}
