#!/usr/bin/python3
"""A simulated electricity meter (mynah IoT example; see iotthing.py).

    python3 meter.py --jid meter@example.org --password secret --state meter.json

It registers with the thing registry, prints the string its owner claims
it with, and then answers read-outs of its energy counter, power and
relay, and lets its owner (and the friends the owner allows) switch the
relay that cuts the supply.  With --sleep it connects only now and then.
"""
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iotthing import Thing, main  # noqa: E402


class Meter(Thing):
    node_id = "meter"
    tags = [("SN", "str", "EM-2024-0042"), ("MAN", "str", "meters.example"),
            ("MODEL", "str", "EM100"), ("V", "num", "1.0"), ("CLASS", "str", "ElectricityMeter")]

    def fields(self):
        # Energy grows with time at the current power; no power while the
        # relay cuts the supply.
        power = random.uniform(400, 2500) if self.state["relay"] else 0.0
        energy = 12000 + (time.time() - 1.7e9) / 3600.0 * 1.2
        return [("numeric", "Energy", "%.3f" % energy, "kWh", "momentary"),
                ("numeric", "Power", "%.1f" % power, "W", "momentary"),
                ("boolean", "Relay", "true" if self.state["relay"] else "false", None, "status"),
                ("string", "Serial", "EM-2024-0042", None, "identity")]


if __name__ == "__main__":
    sys.exit(main(Meter, __doc__))
