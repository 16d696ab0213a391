"""spikeforge.synth: synthesis of one core at a time.

The flow (:mod:`.flow`: Yosys + nextpnr from the YoWASP wheels, cached),
the tools' parsers (:mod:`.parse`), the targets as data (:mod:`.targets`),
the iCE40 measurement harness (:mod:`.harness`), the result record
(:mod:`.result`) and :func:`.core.synth_core`. It reads ``spikeforge.models``
and ``spikeforge.hdl`` only; the report and sweeps (``spikeforge.report``,
``spikeforge.sweep``) sit above it.
"""
