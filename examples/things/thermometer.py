#!/usr/bin/python3
"""A simulated battery-powered thermometer (mynah IoT example; see
iotthing.py).

    python3 thermometer.py --jid thermo@example.org --password secret \\
        --state thermo.json --sleep 300 --awake 10

It registers with the thing registry, prints the string its owner claims
it with, and answers read-outs of its temperature and battery.  Its relay
drives a heater.  A battery-powered thing sleeps: with --sleep it wakes,
pushes a reading to the server, stays awake --awake seconds and sleeps
again; meanwhile the server answers readers from what it kept.
"""
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iotthing import Thing, main  # noqa: E402


class Thermometer(Thing):
    node_id = "thermometer"
    tags = [("SN", "str", "TH-7-000133"), ("MAN", "str", "sensors.example"),
            ("MODEL", "str", "T7"), ("V", "num", "2.1"), ("CLASS", "str", "Thermometer")]

    def fields(self):
        # A day's swing around 20 °C, warmer with the heater on.
        t = 20 + 3 * math.sin(time.time() / 86400 * 2 * math.pi)
        if self.state["relay"]:
            t += 1.5
        battery = max(5, 100 - int((time.time() / 3600) % 95))
        return [("numeric", "Temperature", "%.2f" % t, "°C", "momentary"),
                ("int", "Battery", str(battery), None, "status"),
                ("boolean", "Heater", "true" if self.state["relay"] else "false", None, "status")]


if __name__ == "__main__":
    sys.exit(main(Thermometer, __doc__))
