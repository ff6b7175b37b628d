"""The ground floor: what every layer uses and that knows no database (settings, the error
tree, logs, metrics, text folding, languages, crypto, the clock)."""
