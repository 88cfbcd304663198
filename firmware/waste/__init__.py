# The bin node: measurement, report policy, the queue in flash, the bin
# report. Imports nothing of firmware.lighting.
