# Node firmware (MicroPython). Everything in this package must compile with
# `mpy-cross -march=xtensawin` and import nothing of ours from outside it: the
# gateway and the simulator import these same modules so the two ends of the
# radio link cannot drift apart.
