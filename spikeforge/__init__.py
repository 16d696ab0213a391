"""spikeforge."""
