"""fastwait: await the results of remote jobs, by polling or by webhook, with one line."""

from fastwait._models import JobAccepted, JobState, JobStatus, OutputInfo, QueueInfo
from fastwait.exceptions import FastwaitError

__all__ = ["FastwaitError", "JobAccepted", "JobState", "JobStatus", "OutputInfo", "QueueInfo"]
