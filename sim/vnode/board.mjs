// The simulated hardware around the virtual node's ESP32: what its GPIOs,
// ADC, I2C buses and 1-Wire line see. The sensors are wired as on the
// reference boards (firmware/hal/esp32.py, DEFAULT_PINS) and answer as the
// real parts do: an HC-SR04 echo as long as the sound's round trip, a
// TF-Luna's distance registers, a LIS3DH's gravity vector, a BH1750's lux,
// a DS18B20's scratchpad. The street sets what they measure (set()).

export const DEFAULT_WIRING = {
  trigger: 5, echo: 18, sensor_power: 19, tof_sda: 32, tof_scl: 33, onewire: 4,
  i2c_sda: 21, i2c_scl: 22, lid: 13, battery_adc: 34, led_pwm: 25, pir: 27,
};

// What the street starts with; null: that sensor is not fitted.
export const DEFAULT_STREET = {
  fill_mm: 600, // from the fill sensor down to the rubbish
  fill_sensor: "ultrasonic", // or "tof"
  battery_mv: 3600, // at the battery, before the board's 1:2 divider
  temp_c: null, // a DS18B20 reading this; the air is at 10 C without one
  tilt_deg: null, // a LIS3DH tilted this far from upright
  lid_open: null, // a reed switch on the lid
  lux: null, // a BH1750 seeing this much light
  motion: false, // the PIR sensor's output
};

const IN = 1;
const OUT = 3;
const OPEN_DRAIN = 7;
const PULL_UP = 2;
const AIR_C = 10; // the firmware's own assumption without a thermometer (firmware/waste/measure.py)

function soundMmPerUs(celsius) {
  return (331.3 + 0.606 * celsius) / 1000;
}

export class Board {
  constructor(spec = {}) {
    this.wiring = { ...DEFAULT_WIRING, ...(spec.wiring || {}) };
    this.street = { ...DEFAULT_STREET };
    this.set(spec.street || {});
    this.powerOn();
  }

  set(values) {
    for (const [k, v] of Object.entries(values)) {
      if (!(k in DEFAULT_STREET)) throw new Error(`unknown street value ${k}`);
      this.street[k] = v;
    }
  }

  /** Every GPIO back to input, nothing driven: a reset of the chip. */
  powerOn() {
    this.pins = new Map(); // gpio -> {mode, pull, out}
    this.pwms = new Map(); // gpio -> {freq, duty_u16}
    this.echoArmed = false;
    this.lis3dhOn = false;
    this.thermo = { converted: null, bits: 12 };
  }

  pin(id) {
    let p = this.pins.get(id);
    if (!p) {
      p = { mode: IN, pull: 0, out: 0 };
      this.pins.set(id, p);
    }
    return p;
  }

  pinInit(id, mode, pull, value) {
    const p = this.pin(id);
    if (mode >= 0) p.mode = mode;
    if (pull >= 0) p.pull = pull;
    if (value >= 0) this.pinWrite(id, value);
  }

  pinWrite(id, value) {
    const p = this.pin(id);
    const before = p.out;
    p.out = value ? 1 : 0;
    // An HC-SR04 pings on the trigger's falling edge after a high pulse.
    if (id === this.wiring.trigger && before === 1 && p.out === 0 && this.sensorPowered()) {
      this.echoArmed = true;
    }
  }

  pinRead(id) {
    const p = this.pin(id);
    if (p.mode === OUT || p.mode === OPEN_DRAIN) return p.out;
    const w = this.wiring;
    const s = this.street;
    if (id === w.lid && s.lid_open !== null) {
      // Reed switch to GND, closed while the lid is shut.
      if (!s.lid_open) return 0;
    } else if (id === w.pir) {
      return s.motion ? 1 : 0;
    } else if (id === w.echo) {
      return 0;
    }
    if (p.pull === PULL_UP) return 1;
    return 0;
  }

  sensorPowered() {
    const p = this.pins.get(this.wiring.sensor_power);
    return !!p && p.mode !== IN && p.out === 1;
  }

  /** machine.time_pulse_us on `id`: [result, microseconds it takes]. */
  pulse(id, level, timeoutUs) {
    const s = this.street;
    if (id !== this.wiring.echo || level !== 1 || !this.echoArmed
        || s.fill_sensor !== "ultrasonic") {
      return [-2, timeoutUs]; // the pulse never began
    }
    this.echoArmed = false;
    const mm = s.fill_mm;
    // Past its range the module holds the echo high for ~38 ms: no object.
    const us = mm >= 20 && mm <= 4500
      ? Math.round((2 * mm) / soundMmPerUs(s.temp_c ?? AIR_C)) : 38000;
    if (us > timeoutUs) return [-1, timeoutUs];
    return [us, us];
  }

  /** Microvolts at an ADC pin. */
  adcUv(id) {
    if (id === this.wiring.battery_adc) return Math.round((this.street.battery_mv * 1000) / 2);
    return 0;
  }

  pwm(id, freq, duty) {
    this.pwms.set(id, { freq, duty_u16: duty });
  }

  /** The I2C device answering at addr on the bus wired to (sda, scl), or null. */
  i2c(sda, scl, addr) {
    const w = this.wiring;
    const s = this.street;
    if (sda === w.tof_sda && scl === w.tof_scl && addr === 0x10
        && s.fill_sensor === "tof" && this.sensorPowered()) {
      return this.tfluna();
    }
    if (sda === w.i2c_sda && scl === w.i2c_scl) {
      if (addr === 0x18 && s.tilt_deg !== null) return this.lis3dh();
      if (addr === 0x23 && s.lux !== null) return this.bh1750();
    }
    return null;
  }

  i2cScan(sda, scl) {
    const found = [];
    for (let a = 0x08; a < 0x78; a++) if (this.i2c(sda, scl, a)) found.push(a);
    return found;
  }

  tfluna() {
    const s = this.street;
    return {
      write() {},
      read(reg, n) {
        const cm = Math.round(s.fill_mm / 10);
        const regs = [cm & 0xff, cm >> 8, 0xe8, 0x03]; // distance, amplitude 1000
        const out = [];
        for (let i = 0; i < n; i++) out.push(regs[reg + i] ?? 0);
        return out;
      },
    };
  }

  lis3dh() {
    const board = this;
    return {
      write(reg, bytes) {
        // CTRL_REG1's top four bits are the data rate; 0 powers it down.
        if (reg === 0x20 && bytes.length) board.lis3dhOn = (bytes[0] >> 4) !== 0;
      },
      read(reg, n) {
        const r = reg & 0x7f;
        if (r === 0x0f) return [0x33];
        if (r === 0x28) {
          const t = (board.street.tilt_deg * Math.PI) / 180;
          // +-2 g, high resolution: 1 g reads 16384 (left-justified 12 bits).
          const v = board.lis3dhOn ? [Math.sin(t), 0, Math.cos(t)] : [0, 0, 0];
          const out = [];
          for (const g of v) {
            const raw = Math.round(g * 16000) & 0xfff0;
            out.push(raw & 0xff, (raw >> 8) & 0xff);
          }
          return out.slice(0, n);
        }
        return new Array(n).fill(0);
      },
    };
  }

  bh1750() {
    const s = this.street;
    return {
      write() {},
      read(_reg, n) {
        const raw = Math.min(0xffff, Math.round(s.lux * 1.2));
        return [raw >> 8, raw & 0xff].slice(0, n);
      },
    };
  }

  /** The DS18B20 on the 1-Wire line at `id`, or null. */
  thermometer(id) {
    if (id !== this.wiring.onewire || this.street.temp_c === null) return null;
    return { rom: [0x28, 0x56, 0x4b, 0x0a, 0x00, 0x00, 0x00] };
  }

  convertTemp() {
    const step = 1 / (1 << (this.thermo.bits - 8));
    this.thermo.converted = Math.round(this.street.temp_c / step) * step;
  }

  writeScratch(bytes) {
    if (bytes.length >= 3) this.thermo.bits = 9 + ((bytes[2] >> 5) & 3);
  }

  /** The DS18B20's 9-byte scratchpad (power-on value 85 C until a conversion). */
  scratchpad() {
    const c = this.thermo.converted ?? 85;
    const raw = Math.round(c * 16) & 0xffff;
    const cfg = ((this.thermo.bits - 9) << 5) | 0x1f;
    const pad = [raw & 0xff, raw >> 8, 0, 0, cfg, 0xff, 0x0c, 0x10];
    pad.push(crc8(pad));
    return pad;
  }

  status() {
    const pwm = {};
    for (const [id, p] of this.pwms) pwm[id] = p;
    return { street: { ...this.street }, pwm };
  }
}

/** Dallas/Maxim 1-Wire CRC-8. */
export function crc8(bytes) {
  let crc = 0;
  for (let b of bytes) {
    for (let i = 0; i < 8; i++) {
      const mix = (crc ^ b) & 1;
      crc >>= 1;
      if (mix) crc ^= 0x8c;
      b >>= 1;
    }
  }
  return crc;
}
