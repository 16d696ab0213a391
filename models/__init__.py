"""Golden models and conversion (NumPy only)."""
