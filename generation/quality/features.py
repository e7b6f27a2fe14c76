"""Radiomic features of in-memory images, as frd-score computes them for the Fréchet Radiomics Distance.

frd-score's API reads image files and returns only summary statistics; the report needs each
image's features (for the bootstrap, the real-versus-real split, the features that differ most,
precision and recall, the 1-nearest-neighbour test). So this module takes frd-score's own feature
extractor (its FRDv1 settings, `frd_score.frd.get_feature_extractor`) and prepares each image the
way frd-score's `process_image_mask_pair` prepares a 2-D file: float32, a full-image mask with
its corner pixel left out, a third axis of size 1, and the numeric diagnostics kept as features.
tests/generation/test_quality_features.py checks that both give the same numbers for one PNG.

Feature sets:
- "frd-v1" (default): frd-score's FRDv1 configuration, the Original image and its eight wavelet
  decompositions (frd-score also lists LoG filters, which pyradiomics skips for a one-slice image).
- "original": the Original image only, about three times faster; not the published FRD.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from tqdm import tqdm

FEATURE_SETS = ("frd-v1", "original")
CHUNK = 8
_EXTRACTOR = None


def make_extractor(feature_set: str = "frd-v1"):
    """frd-score's FRDv1 feature extractor (pyradiomics), for `feature_set`."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"feature set must be one of {', '.join(FEATURE_SETS)}, got {feature_set!r}")
    _quiet_radiomics()
    from frd_score import frd

    image_types = None if feature_set == "frd-v1" else ["Original"]
    return frd.get_feature_extractor(frd_version=frd.FRD_VERSION_V1, image_dim=2, image_types=image_types)


def image_features(extractor, pixels: np.ndarray) -> dict[str, float]:
    """Features of one 2-D image (any numeric dtype), named as pyradiomics names them."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.asarray(pixels, dtype=np.float32)[np.newaxis])
    mask_array = np.ones((1,) + pixels.shape, dtype=np.uint8)
    mask_array[0, 0, 0] = 0  # frd-score's guard against a pyradiomics bug with all-ones masks
    mask = sitk.GetImageFromArray(mask_array)
    mask.CopyInformation(image)
    output = extractor.execute(image, mask)
    features = {}
    for name, value in output.items():
        if "diagnostics" not in name:
            features[name.replace("original_", "")] = float(value)
        else:
            try:  # frd-score v1 keeps the numeric diagnostics (such as the image mean) as features
                features[name] = float(value)
            except (TypeError, ValueError):
                pass
    return features


def extract_features(pixels: np.ndarray, *, feature_set: str = "frd-v1", workers: int = 1,
                     progress: bool = False, description: str = "radiomic features") -> tuple[np.ndarray, list[str]]:
    """Radiomic features of a stack of images (n, h, w): an (n, k) float64 array and the k names."""
    if len(pixels) == 0:
        raise ValueError("no images to extract features from")
    chunks = [pixels[start:start + CHUNK] for start in range(0, len(pixels), CHUNK)]
    rows: list[list[dict]] = [None] * len(chunks)
    with tqdm(total=len(pixels), desc=description, unit="img", file=sys.stderr, disable=not progress) as bar:
        if workers <= 1 or len(chunks) == 1:
            _one_thread()
            extractor = make_extractor(feature_set)
            for number, chunk in enumerate(chunks):
                rows[number] = [image_features(extractor, image) for image in chunk]
                bar.update(len(chunk))
        else:
            # fork: the workers start in milliseconds and share the images; they use no torch
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=context,
                                     initializer=_start_worker, initargs=(feature_set,)) as executor:
                futures = {executor.submit(_worker_chunk, chunk): number for number, chunk in enumerate(chunks)}
                from concurrent.futures import as_completed

                for future in as_completed(futures):
                    rows[futures[future]] = future.result()
                    bar.update(len(rows[futures[future]]))
    dicts = [row for chunk in rows for row in chunk]
    names = list(dicts[0])
    values = np.array([[row.get(name, np.nan) for name in names] for row in dicts], dtype=np.float64)
    return values, names


def _start_worker(feature_set: str) -> None:
    global _EXTRACTOR
    os.environ["OMP_NUM_THREADS"] = "1"
    _one_thread()
    _EXTRACTOR = make_extractor(feature_set)


def _worker_chunk(chunk: np.ndarray) -> list[dict]:
    return [image_features(_EXTRACTOR, image) for image in chunk]


def _one_thread() -> None:
    # SimpleITK's filters start a thread per core for each small image: far slower than one
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)


def _quiet_radiomics() -> None:
    import radiomics

    radiomics.setVerbosity(60)
    logging.getLogger("radiomics").setLevel(logging.ERROR)
