"""learning: the spike-count rule of Wu et al. (2019) on an equivalent tensor model (torch)."""
