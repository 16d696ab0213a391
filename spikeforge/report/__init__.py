"""The comparison report behind ``spikeforge report`` (``spikeforge.report``).

Golden section (:mod:`.golden`), hardware sections (:mod:`.hardware`),
rendering to Markdown and HTML (:mod:`.document`) and the figures
(:mod:`.plots`).
"""

from .golden import MANIFEST, run_report, write_report

__all__ = ["MANIFEST", "run_report", "write_report"]
