"""The comparison report behind ``spikeforge report`` (``spikeforge.report``).

- :mod:`.golden`: golden models of every coding on a bundled data set;
- :mod:`.hardware`: co-simulation and synthesis of every core, area against
  K, and the layer cores of a whole network;
- :mod:`.records`: the typed records the sections build;
- :mod:`.document`: the renderers (Markdown and HTML from one block list, JSON);
- :mod:`.plots`: the figures;
- :mod:`.run`: run the sections and write the report folder.

The report sits above ``spikeforge.synth`` and ``spikeforge.sim`` and uses
the front-end :mod:`spikeforge.api`; nothing below imports it.
"""

from .run import MANIFEST, run_report, write_report

__all__ = ["MANIFEST", "run_report", "write_report"]
