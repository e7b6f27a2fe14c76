"""Mirage's data model: pools of images, studies, readers, trials and responses."""
from .pool import ImageClass, Pool, PoolImage
from .reading import ReadingSession, Response, Trial, TrialImage, TrialKind
from .study import Design, Reader, Study, StudyStatus

__all__ = [
    "Design", "ImageClass", "Pool", "PoolImage", "Reader", "ReadingSession", "Response", "Study",
    "StudyStatus", "Trial", "TrialImage", "TrialKind",
]
