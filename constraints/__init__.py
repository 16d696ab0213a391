"""spikeforge.constraints."""
