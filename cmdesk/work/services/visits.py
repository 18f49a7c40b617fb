"""日拜访: visits to retailers — check-in, checklist, photos, feedback, retailer updates, notes, check-out — and the
compliance of a month's visiting.

* ``check_in`` refuses a retailer that is not on the CM's routes (the message gives its licence number, not the
  other CM's shop name), needs a reason when the phone
  gave no location, allows one open visit at a time, and records the distance to the shop (haversine); a check-in
  farther than ``rules.far_checkin_m`` is kept but flagged ``far``.
* ``record_checks`` validates the answers by the item's kind (yes/no, score 1–5, number ≥ 0, text, key brands in stock
  as a list of key-brand product ids) and sets ``ok`` False for a problem: "no", a score of 2 or less, no key brand
  in stock. Required items must be answered before ``check_out``.
* ``check_out`` sets the duration; a visit shorter than ``rules.min_visit_minutes`` is not refused, it is listed by
  ``compliance``.
* ``update_retailer`` changes a whitelist of the retailer's fields, validated by the model's own fields, saved inside
  ``acting_as(user)`` so the retailer's audit log has it, with one :class:`RetailerUpdate` row per field.

Every write is atomic and re-checks that the user may change the visit (OutOfScope otherwise: a 404 for pages).
"""

from __future__ import annotations

import datetime
import io
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from cmdesk.catalog.models import Product
from cmdesk.core.audit import acting_as
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import has_model_perm, in_scope
from cmdesk.org.choices import Role
from cmdesk.org.models import Staff
from cmdesk.retail.choices import RetailerStatus
from cmdesk.retail.models import Retailer

from ..models import (
    AnswerKind,
    ChecklistItem,
    Feedback,
    FeedbackKind,
    PlannedVisit,
    RetailerUpdate,
    Visit,
    VisitCheck,
    VisitPhoto,
    VisitStatus,
    VisitType,
)
from ..rules import month_end, month_start, rules_for
from .geo import haversine_m

COORD = Decimal("0.000001")
PHOTO_MAX_PX = 1600
PHOTO_MAX_BYTES = 20 * 1024 * 1024
RETAILER_FIELDS = (
    "phone",
    "address",
    "business_format",
    "floor_area",
    "order_method",
    "settlement_method",
    "status",
    "opened_on",
    "closed_on",
    "latitude",
    "longitude",
)
YES = {"yes", "y", "true", "1", "on", "是", "有"}
NO = {"no", "n", "false", "0", "off", "否", "无"}


# --- guards ----------------------------------------------------------------------------------------------------------


def check_retailer_on_routes(cm: Staff, retailer: Retailer, field_name: str = "retailer") -> None:
    """The retailer must be on one of the CM's routes; the error names the retailer."""
    if retailer.route.cm_id != cm.pk:
        raise ValidationError(
            {
                # the licence number only: the shop belongs to another CM, whose records this user may not read
                field_name: _(
                    "The retailer with licence %(licence)s is not on the routes of %(cm)s: only retailers of the "
                    "CM's own routes can be visited or planned."
                )
                % {"licence": retailer.licence_no, "cm": cm.name}
            }
        )


def _check(user: Any, obj: Any, action: str = "change") -> None:
    if user is not None and not in_scope(user, obj, action):
        raise OutOfScope


def _check_open(visit: Visit) -> None:
    if visit.status != VisitStatus.OPEN:
        raise ValidationError(
            _("The visit to %(retailer)s is %(status)s; only an open visit can be changed.")
            % {"retailer": visit.retailer, "status": visit.get_status_display()}
        )


MICRODEGREE = Decimal("0.000001")


def _decimal(value: Any, name: str, errors: dict) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors[name] = _("“%(value)s” is not a number.") % {"value": value}
        return None
    if not number.is_finite():
        errors[name] = _("“%(value)s” is not a number.") % {"value": value}
        return None
    return number


# --- check-in --------------------------------------------------------------------------------------------------------


@transaction.atomic
def check_in(
    cm: Staff,
    retailer: Retailer,
    user: Any,
    lat: Any = None,
    lon: Any = None,
    accuracy: Any = None,
    visit_type: str = VisitType.ROUTINE,
    planned: PlannedVisit | None = None,
    at: datetime.datetime | None = None,
    no_location_reason: str = "",
) -> Visit:
    """Start a visit at a retailer of the CM's routes (see the module doc)."""
    if user is not None and not has_model_perm(user, Visit, "add"):
        raise OutOfScope
    check_retailer_on_routes(cm, retailer)
    at = at or timezone.now()
    errors: dict[str, Any] = {}
    if visit_type not in VisitType.values:
        errors["visit_type"] = _("“%(value)s” is not a visit type.") % {"value": visit_type}
    lat = None if lat in (None, "") else lat
    lon = None if lon in (None, "") else lon
    no_location_reason = (no_location_reason or "").strip()
    if (lat is None) != (lon is None):
        errors["latitude"] = _("A location needs both latitude and longitude.")
    elif lat is not None:
        lat = _decimal(lat, "latitude", errors)
        lon = _decimal(lon, "longitude", errors)
        # a phone gives more decimals than the 6 stored (≈ 0.1 m): round, don't refuse
        lat = lat.quantize(MICRODEGREE) if lat is not None else None
        lon = lon.quantize(MICRODEGREE) if lon is not None else None
        if lat is not None and not -90 <= lat <= 90:
            errors["latitude"] = _("Latitude must be between -90 and 90.")
        if lon is not None and not -180 <= lon <= 180:
            errors["longitude"] = _("Longitude must be between -180 and 180.")
    elif not no_location_reason:
        errors["no_location_reason"] = _(
            "The phone gave no location: say why (e.g. location turned off, no signal) to check in without it."
        )
    if len(no_location_reason) > 200:
        errors["no_location_reason"] = _("At most 200 characters.")
    if accuracy in ("", None):
        accuracy = None
    else:
        number = _decimal(accuracy, "accuracy", errors)
        if number is not None and number < 0:
            errors["accuracy"] = _("The accuracy cannot be negative.")
        accuracy = int(number) if number is not None and number >= 0 else None
    if planned is not None:
        if planned.cm_id != cm.pk or planned.retailer_id != retailer.pk:
            errors["planned"] = _("This planned visit is not for %(retailer)s.") % {"retailer": retailer}
        elif Visit.objects.filter(planned=planned).exists():
            errors["planned"] = _("This planned visit to %(retailer)s has already been made.") % {"retailer": retailer}
    else:
        planned = PlannedVisit.objects.filter(
            cm=cm, retailer=retailer, date=timezone.localtime(at).date(), visit__isnull=True
        ).first()
    still_open = Visit.objects.select_for_update().filter(cm=cm, status=VisitStatus.OPEN).select_related("retailer")
    current = still_open.first()
    if current is not None:
        errors["retailer"] = _("You are still checked in at %(retailer)s since %(time)s: check out there first.") % {
            "retailer": current.retailer,
            "time": date_format(timezone.localtime(current.checkin_at), "SHORT_DATETIME_FORMAT"),
        }
    if errors:
        raise ValidationError(errors)

    distance = None
    if lat is not None:
        lat, lon = lat.quantize(COORD), lon.quantize(COORD)
        if retailer.latitude is not None and retailer.longitude is not None:
            distance = round(haversine_m(lat, lon, retailer.latitude, retailer.longitude))
    rules = rules_for(cm)
    with acting_as(user):
        visit = Visit.objects.create(
            cm=cm,
            retailer=retailer,
            planned=planned,
            visit_type=visit_type,
            status=VisitStatus.OPEN,
            checkin_at=at,
            checkin_latitude=lat,
            checkin_longitude=lon,
            checkin_accuracy_m=accuracy,
            distance_m=distance,
            far=distance is not None and distance > rules.far_checkin_m,
            no_location_reason="" if lat is not None else no_location_reason,
        )
    _check(user, visit, "add")
    return visit


# --- checklist -------------------------------------------------------------------------------------------------------


def applicable_items(visit_type: str) -> list[ChecklistItem]:
    """The active checklist items for a visit type, in their order."""
    return [item for item in ChecklistItem.objects.filter(active=True) if item.applies_to(visit_type)]


def key_brand_products() -> QuerySet:
    return Product.objects.filter(key_brand=True).order_by("brand", "name")


def parse_answer(item: ChecklistItem, raw: Any) -> tuple[Any, bool | None]:
    """Validate one answer: (the value to store, ok). ok is False for a problem, None when not judged."""
    kind = item.answer
    if kind == AnswerKind.YES_NO:
        if isinstance(raw, bool):
            return raw, raw
        text = str(raw).strip().lower()
        if text in YES:
            return True, True
        if text in NO:
            return False, False
        raise ValidationError(_("Answer yes or no."))
    if kind == AnswerKind.SCORE:
        if isinstance(raw, bool):
            raise ValidationError(_("Give a score from 1 to 5."))
        try:
            score = Decimal(str(raw).strip())
        except (InvalidOperation, ValueError):
            raise ValidationError(_("Give a score from 1 to 5.")) from None
        if not score.is_finite() or score != score.to_integral_value() or not 1 <= score <= 5:
            raise ValidationError(_("Give a score from 1 to 5."))
        return int(score), int(score) > 2
    if kind == AnswerKind.NUMBER:
        if isinstance(raw, bool):
            raise ValidationError(_("Give a number of 0 or more."))
        try:
            number = Decimal(str(raw).strip())
        except (InvalidOperation, ValueError):
            raise ValidationError(_("Give a number of 0 or more.")) from None
        if not number.is_finite() or number < 0:
            raise ValidationError(_("Give a number of 0 or more."))
        return (int(number) if number == number.to_integral_value() else float(number)), None
    if kind == AnswerKind.TEXT:
        text = str(raw).strip()
        if len(text) > 2000:
            raise ValidationError(_("At most 2000 characters."))
        return text, None
    if kind == AnswerKind.KEY_BRANDS:
        if isinstance(raw, str):
            raw = [part for part in raw.replace("，", ",").split(",") if part.strip()]
        if not isinstance(raw, list | tuple):
            raise ValidationError(_("List the key-brand products in stock."))
        ids = set()
        for part in raw:
            try:
                ids.add(int(str(part).strip()))
            except ValueError:
                raise ValidationError(_("“%(value)s” is not a product id.") % {"value": part}) from None
        known = set(key_brand_products().filter(pk__in=ids).values_list("pk", flat=True))
        unknown = sorted(ids - known)
        if unknown:
            raise ValidationError(_("Not key-brand products: %(ids)s.") % {"ids": ", ".join(str(i) for i in unknown)})
        return sorted(ids), bool(ids)
    raise ValidationError(_("Unknown answer kind %(kind)s.") % {"kind": kind})


def _empty(raw: Any, item: ChecklistItem) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str) and not raw.strip():
        return item.answer != AnswerKind.KEY_BRANDS
    return False


@transaction.atomic
def record_checks(visit: Visit, user: Any, answers: dict[str, Any]) -> list[VisitCheck]:
    """Store checklist answers {item code: value or {"value": …, "note": …}}; an empty value clears the answer.

    For key brands an empty list (or empty string) is an answer: none of the key brands in stock.
    """
    _check(user, visit)
    visit = Visit.objects.select_for_update().select_related("retailer").get(pk=visit.pk)
    _check_open(visit)
    items = {item.code: item for item in applicable_items(visit.visit_type)}
    all_codes = set(ChecklistItem.objects.values_list("code", flat=True))
    errors: dict[str, list[str]] = {}
    parsed: list[tuple[ChecklistItem, Any, bool | None, str]] = []
    cleared: list[ChecklistItem] = []
    for code, answer in answers.items():
        item = items.get(code)
        if item is None:
            if code in all_codes:
                errors[code] = [
                    _("This checklist item does not apply to this visit type (%(type)s).")
                    % {"type": visit.get_visit_type_display()}
                ]
            else:
                errors[code] = [_("There is no checklist item “%(code)s”.") % {"code": code}]
            continue
        note = ""
        raw = answer
        if isinstance(answer, dict):
            raw = answer.get("value")
            note = str(answer.get("note") or "").strip()
            if len(note) > 300:
                errors[code] = [_("A note has at most 300 characters.")]
                continue
        if _empty(raw, item):
            cleared.append(item)
            continue
        try:
            value, ok = parse_answer(item, raw)
        except ValidationError as error:
            errors[code] = [f"{item.name}: {m}" for m in error.messages]
            continue
        parsed.append((item, value, ok, note))
    if errors:
        raise ValidationError(errors)
    saved = []
    with acting_as(user):
        for item in cleared:
            VisitCheck.objects.filter(visit=visit, item=item).delete()
        for item, value, ok, note in parsed:
            check, _created = VisitCheck.objects.update_or_create(
                visit=visit, item=item, defaults={"value": value, "ok": ok, "note": note}
            )
            saved.append(check)
    return saved


def missing_required(visit: Visit) -> list[ChecklistItem]:
    answered = set(visit.checks.values_list("item_id", flat=True))
    return [item for item in applicable_items(visit.visit_type) if item.required and item.pk not in answered]


# --- check-out, notes, cancel ----------------------------------------------------------------------------------------


@transaction.atomic
def check_out(visit: Visit, user: Any, at: datetime.datetime | None = None) -> Visit:
    """End an open visit: the required checklist items must be answered; the duration is kept in minutes."""
    _check(user, visit)
    visit = Visit.objects.select_for_update().select_related("retailer").get(pk=visit.pk)
    _check_open(visit)
    missing = missing_required(visit)
    if missing:
        raise ValidationError(
            {
                "checks": _("Answer the required checklist items first: %(items)s.")
                % {"items": ", ".join(item.name for item in missing)}
            }
        )
    at = at or timezone.now()
    if at < visit.checkin_at:
        raise ValidationError({"checkout_at": _("The check-out cannot be before the check-in.")})
    with acting_as(user):
        visit.checkout_at = at
        visit.duration_minutes = int((at - visit.checkin_at).total_seconds() // 60)
        visit.status = VisitStatus.DONE
        visit.save(update_fields=["checkout_at", "duration_minutes", "status", "updated_at"])
    return visit


@transaction.atomic
def cancel_visit(visit: Visit, user: Any) -> Visit:
    """Cancel a check-in made by mistake (the record stays, marked cancelled)."""
    _check(user, visit)
    visit = Visit.objects.select_for_update().select_related("retailer").get(pk=visit.pk)
    _check_open(visit)
    with acting_as(user):
        visit.status = VisitStatus.CANCELLED
        visit.planned = None  # the planned visit can be made again
        visit.save(update_fields=["status", "planned", "updated_at"])
    return visit


@transaction.atomic
def set_notes(visit: Visit, user: Any, notes: str) -> Visit:
    _check(user, visit)
    visit = Visit.objects.select_for_update().get(pk=visit.pk)
    if visit.status == VisitStatus.CANCELLED:
        raise ValidationError(_("A cancelled visit cannot be changed."))
    with acting_as(user):
        visit.notes = (notes or "").strip()
        visit.save(update_fields=["notes", "updated_at"])
    return visit


# --- photos and feedback ---------------------------------------------------------------------------------------------


def _jpeg(upload: Any) -> bytes:
    size = getattr(upload, "size", None)
    if size is not None and size > PHOTO_MAX_BYTES:
        raise ValidationError({"image": _("The photo is larger than 20 MB.")})
    try:
        upload.seek(0)
        Image.open(upload).verify()
        upload.seek(0)
        image = Image.open(upload)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError({"image": _("The file is not a photo (JPEG, PNG, WebP …) that can be read.")}) from None
    image = ImageOps.exif_transpose(image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    image.thumbnail((PHOTO_MAX_PX, PHOTO_MAX_PX))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


@transaction.atomic
def add_photo(visit: Visit, user: Any, upload: Any, caption: str = "") -> VisitPhoto:
    """Store a photo of the visit as a JPEG of at most 1600 px a side."""
    _check(user, visit)
    if user is not None and not has_model_perm(user, VisitPhoto, "add"):
        raise OutOfScope
    if visit.status == VisitStatus.CANCELLED:
        raise ValidationError(_("A cancelled visit cannot be changed."))
    caption = (caption or "").strip()
    if len(caption) > 200:
        raise ValidationError({"caption": _("At most 200 characters.")})
    data = _jpeg(upload)
    with acting_as(user):
        photo = VisitPhoto(visit=visit, caption=caption)
        photo.image.save(f"{uuid.uuid4().hex[:12]}.jpg", ContentFile(data), save=False)
        photo.save()
    return photo


@transaction.atomic
def add_feedback(
    visit: Visit,
    user: Any,
    kind: str,
    text: str,
    product: Product | None = None,
    due: datetime.date | None = None,
) -> Feedback:
    """A need, complaint or piece of market information raised in the visit."""
    _check(user, visit)
    if visit.status == VisitStatus.CANCELLED:
        raise ValidationError(_("A cancelled visit cannot be changed."))
    errors = {}
    if kind not in FeedbackKind.values:
        errors["kind"] = _("“%(value)s” is not a kind of feedback.") % {"value": kind}
    text = (text or "").strip()
    if not text:
        errors["text"] = _("Say what the retailer needs or reports.")
    if errors:
        raise ValidationError(errors)
    with acting_as(user):
        feedback = Feedback(
            cm=visit.cm, retailer=visit.retailer, visit=visit, kind=kind, text=text, product=product, due=due
        )
        feedback.full_clean()
        feedback.save()
    return feedback


# --- retailer updates ------------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@transaction.atomic
def update_retailer(
    visit: Visit, user: Any, changes: dict[str, Any], location_here: bool = False
) -> list[RetailerUpdate]:
    """Correct the retailer's record through the visit: whitelisted fields only, audited, one row per changed field.

    ``location_here`` sets the shop's location to the visit's check-in location ("the shop is here").
    """
    _check(user, visit)
    if visit.status == VisitStatus.CANCELLED:
        raise ValidationError(_("A cancelled visit cannot be changed."))
    retailer = Retailer.objects.select_for_update().get(pk=visit.retailer_id)
    _check(user, retailer)
    changes = dict(changes)
    errors: dict[str, Any] = {}
    for name in changes:
        if name not in RETAILER_FIELDS:
            errors[name] = _("“%(field)s” cannot be changed through a visit.") % {"field": name}
    if location_here:
        if visit.checkin_latitude is None or visit.checkin_longitude is None:
            errors["location_here"] = _("The visit has no check-in location to use.")
        else:
            changes["latitude"] = visit.checkin_latitude
            changes["longitude"] = visit.checkin_longitude
    changed: list[tuple[str, Any, Any]] = []
    for name, raw in changes.items():
        if name not in RETAILER_FIELDS:
            continue
        model_field = Retailer._meta.get_field(name)
        if raw in ("", None):
            raw = None if model_field.null else ""
        try:
            value = model_field.clean(raw, retailer)
        except ValidationError as error:
            errors[name] = error.messages
            continue
        before = getattr(retailer, name)
        if before != value:
            setattr(retailer, name, value)
            changed.append((name, before, value))
    if errors:
        raise ValidationError(errors)
    if not changed:
        return []
    retailer.full_clean()
    rows = []
    with acting_as(user):
        retailer.save(update_fields=[name for name, _b, _a in changed] + ["updated_at"])
        for name, before, after in changed:
            rows.append(
                RetailerUpdate.objects.create(
                    visit=visit, retailer=retailer, field=name, before=_text(before), after=_text(after)
                )
            )
    return rows


# --- lists -----------------------------------------------------------------------------------------------------------


@dataclass
class DayItem:
    """One line of the day's list: a planned visit (maybe made) or an unplanned visit."""

    retailer: Retailer
    planned: PlannedVisit | None
    visit: Visit | None

    @property
    def state(self) -> str:
        if self.visit is None:
            return "todo"
        return self.visit.status


def day_list(cm: Staff, day: datetime.date) -> list[DayItem]:
    """The CM's planned visits of the day in route order with their visits, then the day's unplanned visits."""
    planned = list(PlannedVisit.objects.filter(cm=cm, date=day).select_related("retailer__route").order_by("seq", "id"))
    visits = {
        v.planned_id: v for v in Visit.objects.filter(planned__in=[p.pk for p in planned]).select_related("retailer")
    }
    items = [DayItem(p.retailer, p, visits.get(p.pk)) for p in planned]
    extra = (
        Visit.objects.filter(cm=cm, checkin_at__date=day, planned__isnull=True)
        .select_related("retailer__route")
        .order_by("checkin_at")
    )
    items += [DayItem(v.retailer, None, v) for v in extra]
    return items


def search_retailers(cm: Staff, query: str, limit: int = 20) -> list[Retailer]:
    """The CM's own retailers matching a shop name, owner, licence number or pinyin initials."""
    qs = Retailer.objects.filter(route__cm=cm).exclude(status=RetailerStatus.CANCELLED).select_related("route")
    query = (query or "").strip()
    if query:
        qs = qs.filter(
            Q(shop_name__icontains=query)
            | Q(owner_name__icontains=query)
            | Q(licence_no__contains=query)
            | Q(search_key__icontains=query.lower())
            | Q(address__icontains=query)
        )
    return list(qs.order_by("route__code", "visit_order", "id")[:limit])


def open_visit(cm: Staff) -> Visit | None:
    return Visit.objects.filter(cm=cm, status=VisitStatus.OPEN).select_related("retailer").first()


# --- compliance ------------------------------------------------------------------------------------------------------


@dataclass
class ComplianceLine:
    kind: str  # not_visited | short | far | no_location
    retailer: Retailer
    visit: Visit | None = None
    last_visit: datetime.date | None = None
    days: int | None = None  # days since the last visit
    cycle_days: int | None = None
    minutes: int | None = None
    distance_m: int | None = None


@dataclass
class CmCompliance:
    cm: Staff
    month: datetime.date
    as_of: datetime.date
    visits: int = 0
    not_visited: list[ComplianceLine] = field(default_factory=list)
    short: list[ComplianceLine] = field(default_factory=list)
    far: list[ComplianceLine] = field(default_factory=list)
    no_location: list[ComplianceLine] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return len(self.not_visited) + len(self.short) + len(self.far) + len(self.no_location)

    def lines(self) -> list[ComplianceLine]:
        return [*self.not_visited, *self.short, *self.far, *self.no_location]


def compliance_for(cm: Staff, month: datetime.date | None = None, as_of: datetime.date | None = None) -> CmCompliance:
    """One CM's month: retailers not visited within their route's cycle (or never), short, far, no-location visits."""
    today = timezone.localdate()
    month = month_start(month or as_of or today)
    end = month_end(month)
    as_of = as_of or min(today, end)
    rules = rules_for(cm)
    result = CmCompliance(cm, month, as_of)
    retailers = list(
        Retailer.objects.filter(route__cm=cm, route__active=True)
        .exclude(status__in=(RetailerStatus.CLOSED, RetailerStatus.CANCELLED))
        .select_related("route")
        .order_by("route__code", "visit_order", "id")
    )
    last = dict(
        Visit.objects.filter(retailer__in=retailers, checkin_at__date__lte=as_of)
        .exclude(status=VisitStatus.CANCELLED)
        .values("retailer_id")
        .annotate(last=Max("checkin_at"))
        .values_list("retailer_id", "last")
    )
    for retailer in retailers:
        cycle = retailer.route.visit_cycle_days
        at = last.get(retailer.pk)
        day = timezone.localtime(at).date() if at is not None else None
        days = (as_of - day).days if day is not None else None
        if day is None or days > cycle:
            result.not_visited.append(
                ComplianceLine("not_visited", retailer, last_visit=day, days=days, cycle_days=cycle)
            )
    visits = list(
        Visit.objects.filter(cm=cm, checkin_at__date__gte=month, checkin_at__date__lte=as_of)
        .exclude(status=VisitStatus.CANCELLED)
        .select_related("retailer")
        .order_by("checkin_at", "id")
    )
    result.visits = len(visits)
    for visit in visits:
        if visit.duration_minutes is not None and visit.duration_minutes < rules.min_visit_minutes:
            result.short.append(ComplianceLine("short", visit.retailer, visit, minutes=visit.duration_minutes))
        if visit.far:
            result.far.append(ComplianceLine("far", visit.retailer, visit, distance_m=visit.distance_m))
        if visit.checkin_latitude is None:
            result.no_location.append(ComplianceLine("no_location", visit.retailer, visit))
    return result


def compliance(
    user: Any, month: datetime.date | None = None, as_of: datetime.date | None = None, cm: Staff | None = None
) -> list[CmCompliance]:
    """Compliance per CM in the user's scope (a CM: its own), or for one CM of that scope (OutOfScope otherwise)."""
    if not has_model_perm(user, Visit, "view"):
        raise OutOfScope
    cms = (
        Staff.objects.restrict(user, "view").filter(role=Role.CM, active=True).order_by("org_unit__path", "employee_no")
    )
    if cm is not None:
        if not cms.filter(pk=cm.pk).exists():
            raise OutOfScope
        cms = cms.filter(pk=cm.pk)
    return [compliance_for(c, month, as_of) for c in cms.select_related("org_unit")]
