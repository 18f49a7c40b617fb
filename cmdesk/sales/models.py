"""The record of each order-data import. The order lines themselves are Parquet facts (cmdesk.analytics.store)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cmdesk.core.scope import RestrictedManager


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


STATUS_COLOUR = {
    ImportStatus.PENDING: "secondary",
    ImportStatus.RUNNING: "info",
    ImportStatus.SUCCEEDED: "success",
    ImportStatus.FAILED: "danger",
}


class ImportMode(models.TextChoices):
    UPSERT = "upsert", _("Add or update")
    REPLACE = "replace", _("Replace the dates covered")


class OrderImport(models.Model):
    """One run of the order import: who, when, which files, what it did to the fact store, its errors.

    City-wide data: every role with the view permission sees every import. ``errors`` keeps the first 1,000 errors
    (dicts with file, row, column, field, value, code, params, reason); ``error_count`` counts all of them.
    ``updated_at`` moves with the progress, so an import whose process died is recognised as stale.
    """

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("imported by"),
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("last progress at"), default=timezone.now)
    file_names = models.JSONField(_("files"), default=list)
    file_sha256 = models.JSONField(_("SHA-256 of the files"), default=list)
    mode = models.CharField(_("mode"), max_length=8, choices=ImportMode.choices, default=ImportMode.UPSERT)
    status = models.CharField(_("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    rows_read = models.PositiveBigIntegerField(_("rows read"), default=0)
    inserted = models.PositiveBigIntegerField(_("inserted"), default=0)
    updated = models.PositiveBigIntegerField(_("updated"), default=0)
    unchanged = models.PositiveBigIntegerField(_("unchanged"), default=0)
    deleted = models.PositiveBigIntegerField(_("deleted"), default=0)
    error_count = models.PositiveBigIntegerField(_("errors"), default=0)
    errors = models.JSONField(_("first errors"), default=list, blank=True)
    months = models.JSONField(_("months changed"), default=list, blank=True)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0, validators=[MaxValueValidator(100)])
    progress_message = models.CharField(_("progress message"), max_length=200, blank=True)
    message = models.TextField(_("message"), blank=True)

    objects = RestrictedManager()
    scope_global = True

    class Meta:
        verbose_name = _("order import")
        verbose_name_plural = _("order imports")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="order_import_progress_max_100"),
        ]

    def __str__(self) -> str:
        return _("Import #%(pk)s") % {"pk": self.pk}

    def get_absolute_url(self) -> str:
        return reverse("sales:orderimport_detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in (ImportStatus.PENDING, ImportStatus.RUNNING)

    @property
    def status_colour(self) -> str:
        return STATUS_COLOUR.get(self.status, "secondary")
