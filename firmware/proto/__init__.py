# The wire vocabulary both ends share: CoAP messages, the resources' paths,
# payload basics and the presence flags, CRC-16. Imports nothing of firmware's
# outside this package.
