"""Jobs and the one runner that executes them (serially, or on Dask): see job.py and backend.py."""
from analysis.runner.backend import JobsFailed, Runner
from analysis.runner.job import Job, JobDirError
from analysis.runner.kinds import execute, model_dir

__all__ = ["Job", "JobDirError", "JobsFailed", "Runner", "execute", "model_dir"]
