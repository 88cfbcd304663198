# One module per sensor or actuator chip; each takes its pins and buses as
# arguments and imports no `machine`. Imports firmware.proto at most.
