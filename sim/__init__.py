"""A virtual district whose nodes run the real firmware on a simulated hardware
layer, against a real gateway over loopback UDP, in virtual time."""
