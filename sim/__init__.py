"""spikeforge.sim."""
