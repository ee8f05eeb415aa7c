"""baselines: ANN-to-SNN conversion with weight normalisation (Diehl et al. 2015, Rueckauer et al. 2017)."""
