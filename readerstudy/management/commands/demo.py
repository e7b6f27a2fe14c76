"""Set up (once) and describe the demo: demo pool, accounts, an open study with three invitation links."""
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse

from readerstudy.models import Pool, Study, StudyStatus
from readerstudy.models.study import CaseSet
from readerstudy.pools import import_pool
from readerstudy.roles import ANALYSTS_GROUP
from readerstudy.scheduling import ScheduleError, check_supply
from readerstudy.services import create_reader, pool_refs, schedule_spec

DEMO_STUDY = "Demo: phantom chest radiographs by resolution"
DEMO_INSTRUCTIONS = """\
**This is demo data.** The "real" images are procedural phantoms drawn by Mirage, and the "synthetic" ones
come from a small GAN that Mirage trained on them. No patient data is involved.

You will see one image at a time. Decide whether it is **real** or **synthetic**:

- press **R** (or click *Real*) for a real image,
- press **S** (or click *Synthetic*) for a synthetic image.

Each answer is saved at once. You can pause at any time and come back later with the same link.
"""
ACCOUNTS = [("coordinator", "mirage-demo", True), ("analyst", "mirage-demo", False)]


class Command(BaseCommand):
    help = "Build the demo data and study once (idempotent), then print the URLs and logins."

    def add_arguments(self, parser):
        parser.add_argument("--data", type=Path, default=Path(settings.VAR_DIR) / "demo",
                            help="folder for the demo's images and pool (default VAR_DIR/demo)")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000",
                            help="address the printed links start with (default %(default)s)")
        parser.add_argument("--count", type=int, default=200,
                            help="images per class in the demo pool (default %(default)s)")

    def handle(self, *args, data: Path, base_url: str, count: int, **options):
        pool = Pool.objects.filter(name="Demo phantoms").first()
        if pool is None:
            from generation.demo import build_demo

            self.stdout.write("Building the demo images (first run only)...")
            pool_dir = build_demo(data, count=count, seed=0, log=lambda m: self.stdout.write(f"  {m}"))
            pool, _ = import_pool(pool_dir, "Demo phantoms")
        study = self._study(pool)
        self._accounts()
        base = base_url.rstrip("/")
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Mirage demo: {study.name}"))
        self.stdout.write("Reader invitation links (no login needed):")
        for reader in study.readers.order_by("pk"):
            self.stdout.write(f"  {reader.name}: {base}{reverse('reader-start', args=[reader.token])}")
        self.stdout.write(f"Coordinator pages: {base}{reverse('dashboard')}   login coordinator / mirage-demo")
        self.stdout.write(f"Analyst results:   {base}{reverse('results', args=[study.pk])}   "
                          "login analyst / mirage-demo")
        self.stdout.write(f"API schema:        {base}{reverse('schema')}")

    @transaction.atomic
    def _study(self, pool: Pool) -> Study:
        study = Study.objects.filter(name=DEMO_STUDY).first()
        if study is None:
            # A shared case set: all three demo readers read the same images, each resolution's set rotating
            # between them (4 resolutions x 10 trials and 4 practice trials use 22 sources of each class).
            study = Study.objects.create(
                name=DEMO_STUDY, pool=pool, status=StudyStatus.OPEN, resolutions=[32, 64, 128, 256],
                trials_per_resolution=10, case_set=CaseSet.SHARED, practice_trials=4,
                instructions=DEMO_INSTRUCTIONS, display_size=512, tell_ratio=True, show_score=True)
            try:
                check_supply(pool_refs(study), schedule_spec(study), study_seed=study.seed)
            except ScheduleError as exc:
                raise CommandError(f"The demo pool is too small for the demo study ({exc}) Build it with a "
                                   "larger --count.") from None
            for i in range(1, 4):
                create_reader(study, f"Demo reader {i}")
        return study

    def _accounts(self) -> None:
        User = get_user_model()
        analysts, _ = Group.objects.get_or_create(name=ANALYSTS_GROUP)
        for username, password, staff in ACCOUNTS:
            if User.objects.filter(username=username).exists():
                continue
            user = User.objects.create_user(username=username, password=password, is_staff=staff,
                                            is_superuser=staff)
            if not staff:
                user.groups.add(analysts)
