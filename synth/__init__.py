"""spikeforge.synth."""
