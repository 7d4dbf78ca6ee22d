"""The read side: one projection per read model, its tables and its queries."""
