# ST LIS3DH 3-axis accelerometer over I2C, used as a tilt sensor: written
# from ST's LIS3DH datasheet (DocID17530). Mounted with its Z axis pointing
# up when the bin stands upright; the tilt is the angle between Z and gravity.
#
#   0x0F  WHO_AM_I   reads 0x33
#   0x20  CTRL_REG1  ODR[7:4], LPen[3], Zen Yen Xen[2:0]; ODR 0000 = power-down
#   0x23  CTRL_REG4  BDU[7], BLE[6], FS[5:4] (00 = +-2 g), HR[3]
#   0x28  OUT_X_L .. 0x2D OUT_Z_H, little-endian, left-justified two's complement
#   register address bit 7 set: auto-increment over a multi-byte read
import math
import struct

ADDR = 0x18  # SDO/SA0 to GND; 0x19 when tied to VDD
REG_WHO_AM_I = 0x0F
WHO_AM_I = 0x33
REG_CTRL1 = 0x20
REG_CTRL4 = 0x23
REG_OUT_X_L = 0x28
AUTO_INCREMENT = 0x80
CTRL1_400HZ_XYZ = b"\x77"  # ODR 400 Hz, normal power, X Y Z on
CTRL1_POWER_DOWN = b"\x07"  # ODR 0000: 0.5 uA between wakes
CTRL4_BDU_HR_2G = b"\x88"  # block data update, high resolution, +-2 g
# High-resolution mode turns on in 7/ODR: 17.5 ms at 400 Hz.
SETTLE_MS = 20


def tilt_deg(x, y, z):
    """Degrees between the Z axis and the measured gravity, 0..180, or None."""
    if x == 0 and y == 0 and z == 0:
        return None
    return math.degrees(math.atan2(math.sqrt(x * x + y * y), z))


class Lis3dh:
    def __init__(self, i2c, sleep_ms, addr=ADDR):
        self.i2c = i2c
        self.sleep_ms = sleep_ms
        self.addr = addr

    def degrees(self):
        """Tilt from upright in degrees, or None when the sensor does not answer."""
        i2c = self.i2c
        a = self.addr
        try:
            if i2c.readfrom_mem(a, REG_WHO_AM_I, 1)[0] != WHO_AM_I:
                return None
            i2c.writeto_mem(a, REG_CTRL4, CTRL4_BDU_HR_2G)
            i2c.writeto_mem(a, REG_CTRL1, CTRL1_400HZ_XYZ)
            self.sleep_ms(SETTLE_MS)
            raw = i2c.readfrom_mem(a, REG_OUT_X_L | AUTO_INCREMENT, 6)
            i2c.writeto_mem(a, REG_CTRL1, CTRL1_POWER_DOWN)
        except OSError:
            return None
        x, y, z = struct.unpack("<hhh", raw)
        return tilt_deg(x, y, z)
