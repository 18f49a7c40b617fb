"""`cmdesk classify`: compute the 4+X class of every open retailer under a scheme (default: the active one).

cmdesk classify                       # the active scheme
cmdesk classify --scheme 3
cmdesk classify --preset 2008         # create a scheme from a preset (2008 | 4x) and classify with it
"""

from __future__ import annotations

import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from cmdesk.supply.models import ClassPreset, ClassScheme
from cmdesk.supply.services import classes as svc


class Command(BaseCommand):
    help = "Compute every open retailer's class (4+X or the 2008 coding) in bulk."

    def add_arguments(self, parser):
        parser.add_argument("--scheme", type=int, help="scheme id (default: the active scheme)")
        parser.add_argument("--preset", choices=ClassPreset.values, help="create a scheme from this preset first")
        parser.add_argument("--name", help="name of the scheme --preset creates")
        parser.add_argument("--activate", action="store_true", help="make the scheme the active one")

    def handle(self, *args, scheme, preset, name, activate, **o):
        try:
            if preset:
                chosen = svc.create_preset(preset, name or str(ClassPreset(preset).label)[:100], active=activate)
            elif scheme:
                chosen = ClassScheme.objects.filter(pk=scheme).first()
                if chosen is None:
                    raise CommandError(f"--scheme: no scheme {scheme}")
            else:
                chosen = svc.active_scheme()
                if chosen is None:
                    raise CommandError("No active scheme: give --scheme ID or --preset 2008|4x.")
            if activate and not chosen.active:
                chosen.active = True
                svc.save_scheme(chosen)
            started = time.perf_counter()
            counts = svc.classify(chosen)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            f"scheme {chosen.pk} {chosen.name}: {counts['retailers']} retailers in {counts['classes']} classes "
            f"({time.perf_counter() - started:.1f}s)"
        )
