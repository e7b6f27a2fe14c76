"""Coordinator pages for pools: counts per resolution and class, sample images, the audit."""
from __future__ import annotations

import itertools

from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from ..models import Pool, PoolImage
from ..roles import coordinator_required


@coordinator_required
@require_safe
def pool_detail(request, pk: int):
    pool = get_object_or_404(Pool, pk=pk)
    counts = (pool.images.values("resolution", "image_class", "role").annotate(n=Count("id"))
              .order_by("resolution", "image_class"))
    table: dict[int, dict[str, int]] = {}
    for row in counts:
        column = "catch" if row["role"] == "catch" else row["image_class"]
        table.setdefault(row["resolution"], {})[column] = row["n"]
    largest = max(table) if table else None
    samples = []
    if largest:  # both classes side by side (ordered by class, the first 24 were all real)
        by_class = [list(pool.images.filter(resolution=largest, image_class=c, role="main").order_by("uid")[:12])
                    for c in ("real", "synthetic")]
        samples = [image for pair in itertools.zip_longest(*by_class) for image in pair if image is not None]
    return render(request, "coordinator/pool_detail.html", {"pool": pool, "table": sorted(table.items()),
                                                            "samples": samples})


@coordinator_required
@require_safe
def pool_image(request, pk: int, uid: str):
    image = get_object_or_404(PoolImage.objects.select_related("pool"), pool_id=pk, uid=uid)
    return HttpResponse(image.path.read_bytes(), content_type="image/png")
