"""`manage.py demo` (what `make run` calls): builds once, then only describes what is there."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from readerstudy.models import Pool, Study

pytestmark = pytest.mark.django_db


def test_the_demo_is_built_once_and_printed_with_links_and_logins(tmp_path, media_root, capsys):
    call_command("demo", data=tmp_path / "demo", count=60, base_url="http://127.0.0.1:8000")
    first = capsys.readouterr().out
    study = Study.objects.get()
    assert study.status == "open" and study.readers.count() == 3
    assert all(r.trials.count() == 44 for r in study.readers.all())  # 4 practice + 4 x 10 main
    # A shared case set: the three readers are in three of the four reader groups, and each resolution's
    # images are read by one of them.
    assert study.case_set == "shared" and sorted(study.readers.values_list("ordinal", flat=True)) == [0, 1, 2]
    seen = [set(r.trials.filter(kind="main", resolution=32).values_list("images__image__source_id", flat=True))
            for r in study.readers.order_by("ordinal")]
    assert all(len(s) == 10 for s in seen) and not (seen[0] & seen[1] or seen[1] & seen[2] or seen[0] & seen[2])
    assert Pool.objects.get().images.filter(image_class="synthetic", generator__name="mirage-demo-dcgan").exists()
    assert first.count("http://127.0.0.1:8000/r/") == 3 and "coordinator / mirage-demo" in first
    User = get_user_model()
    assert User.objects.get(username="coordinator").is_staff
    assert User.objects.get(username="analyst").groups.filter(name="analysts").exists()

    call_command("demo", data=tmp_path / "demo", count=60, base_url="http://127.0.0.1:8000")
    second = capsys.readouterr().out
    assert "Building the demo images" not in second
    assert Study.objects.count() == 1 and Pool.objects.count() == 1 and User.objects.count() == 2
    assert sorted(second.splitlines()[-7:-4]) == sorted(first.splitlines()[-7:-4])  # the same links
