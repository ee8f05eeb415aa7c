"""analysis: latency-accuracy sweeps, quantisation error, the Brian2 cross-check, plots, reports, and the CLI."""
