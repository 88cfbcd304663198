"""The field technician's tools: a node on a USB cable, from a blank chip to a
registered node reporting to its gateway (`kvarter node ...`)."""
