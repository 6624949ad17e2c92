"""The catalogue: its schema, the writer process and its store backends, the read side and exports."""
