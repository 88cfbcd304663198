# LoRa: the EU868 radio plan, airtime, duty cycle, a node's LoRa link and its
# feedback, the radio bridge and its serial frames. Imports firmware.proto and
# firmware.net. (`import lora` elsewhere is micropython-lib's modem drivers.)
