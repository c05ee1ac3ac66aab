"""followups models."""
