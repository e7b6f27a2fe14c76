"""Mirage's data model: pools of images, studies, readers, trials and responses."""
from .pool import ImageClass, Pool, PoolImage
from .quality import QualityRun, QualityStatus
from .reading import ReadingSession, Response, Trial, TrialImage, TrialKind
from .study import Design, Reader, Study, StudyStatus

__all__ = [
    "Design", "ImageClass", "Pool", "PoolImage", "QualityRun", "QualityStatus", "Reader", "ReadingSession",
    "Response", "Study", "StudyStatus", "Trial", "TrialImage", "TrialKind",
]
