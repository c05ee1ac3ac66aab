"""clubs models."""
