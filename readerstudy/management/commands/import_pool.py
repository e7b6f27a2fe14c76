from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from readerstudy import storage
from readerstudy.pools import PoolImportError, import_pool


class Command(BaseCommand):
    help = ("Make a pool built by `python -m generation pool build` available to studies. Its files are checked "
            "against the manifest first; importing the same pool again changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("pool", type=Path, help="the pool folder (with manifest.json)")
        parser.add_argument("--name", required=True, help="a name coordinators will recognise")
        parser.add_argument("--no-copy", action="store_true",
                            help="leave the pool's files where they are instead of copying them under "
                                 "MIRAGE_MEDIA_ROOT "
                                 "(the re-encoded copies readers are sent, so that their size reveals nothing, "
                                 "still go to MIRAGE_MEDIA_ROOT, or to the S3 bucket with MIRAGE_STORAGE=s3)")

    def handle(self, *args, pool: Path, name: str, no_copy: bool, **options):
        if not (pool / "manifest.json").is_file():
            raise CommandError(f"{pool} is not a pool: it has no manifest.json.")
        try:
            registered, created = import_pool(pool, name, copy=not no_copy)
        except PoolImportError as exc:
            raise CommandError(str(exc)) from None
        n = registered.images.count()
        verb = "Imported" if created else "Already imported"
        self.stdout.write(self.style.SUCCESS(f"{verb} pool {registered.name!r} (id {registered.pk}, {n} images; "
                                             f"the copies readers receive are in {storage.where()})."))
        for warning in registered.audit_warnings:
            self.stdout.write(self.style.WARNING(f"WARNING: {warning}"))
