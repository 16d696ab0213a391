"""Generic cocotb testbench for a spikeforge core with stream ports.

The launching pytest writes a JSON spec (path in ``SPIKEFORGE_TB_SPEC``):

- ``ports``: {port: {"dir": "in"|"out", "fields": [[name, offset, width, signed]]}}
- ``stimuli``: {input port: [beats]}, ``expected``: {output port: [beats]}
- ``idle``: {input port: 0/1 pattern}, ``ready``: {output port: 0/1 pattern}
- ``max_cycles``, ``drain``: timeout and extra cycles that must stay silent
- ``skip_quiet``: pass over quiet stretches (:class:`~spikeforge.sim.bfm.TB`; default true)
- ``result``: where to write what happened (accept cycles, beats with cycles)

The scoreboard compares every output port, beat by beat, against the
expected beats computed from the golden model; the first difference fails
the test with its cycle, signal, expected and actual value.
"""

import json
import os

import cocotb

from spikeforge.models.errors import SimulationMismatch
from spikeforge.sim.bfm import TB, StreamSink, StreamSource, compare_beats


@cocotb.test()
async def stream_test(dut):
    with open(os.environ["SPIKEFORGE_TB_SPEC"]) as f:
        spec = json.load(f)
    tb = TB(dut, skip_quiet=spec.get("skip_quiet", True))
    for port, info in spec["ports"].items():
        fields = [tuple(x) for x in info["fields"]]
        if info["dir"] == "in":
            tb.sources[port] = StreamSource(dut, port, fields, spec.get("idle", {}).get(port))
            tb.sources[port].send(spec["stimuli"].get(port, []))
        else:
            tb.sinks[port] = StreamSink(dut, port, fields, spec.get("ready", {}).get(port))
    await tb.reset()
    expected = spec["expected"]

    def done():
        return (all(s.empty() for s in tb.sources.values())
                and all(len(tb.sinks[p].beats) >= len(expected.get(p, [])) for p in tb.sinks))

    error = None
    try:
        finished = await tb.run_until(done, spec["max_cycles"], spec.get("drain", 0))
    except SimulationMismatch as e:              # X/Z on a handshake signal
        finished, error = False, e
    result = {"cycles": tb.cycle, "finished": finished, "skipped": tb.skipped,
              "accepted": {p: s.accepted for p, s in tb.sources.items()},
              "beats": {p: s.beats for p, s in tb.sinks.items()}}
    try:
        if error:
            raise error
        for p, sink in tb.sinks.items():
            compare_beats(p, sink.fields, expected.get(p, []), sink.beats)
        if not finished:
            left = {p: len(s.queue) for p, s in tb.sources.items()}
            raise SimulationMismatch(tb.cycle, "timeout", "all beats exchanged",
                                     f"inputs left {left}", f"no progress within {spec['max_cycles']} cycles")
    except SimulationMismatch as e:
        error = {"cycle": e.cycle, "signal": e.signal, "expected": e.expected, "actual": e.actual,
                 "context": e.context, "message": str(e)}
    result["mismatch"] = error
    with open(spec["result"], "w") as f:
        json.dump(result, f)
    if error:
        raise AssertionError(error["message"])
