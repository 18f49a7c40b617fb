from django.db import models
from django.utils.translation import gettext_lazy as _


class MarketType(models.TextChoices):
    URBAN = "urban", _("Urban")
    RURAL = "rural", _("Rural")


class BusinessFormat(models.TextChoices):
    """The seven business formats (业态); the letter is the 2008 class code (食杂 Z, 便利 B …)."""

    GROCERY = "grocery", _("Grocery store")
    TOBACCO_LIQUOR = "tobacco_liquor", _("Tobacco and liquor store")
    SUPERMARKET = "supermarket", _("Supermarket")
    MALL = "mall", _("Shopping mall")
    CONVENIENCE = "convenience", _("Convenience store")
    ENTERTAINMENT = "entertainment", _("Entertainment and services")
    OTHER = "other", _("Other")


FORMAT_LETTER = {
    BusinessFormat.GROCERY: "Z",
    BusinessFormat.CONVENIENCE: "B",
    BusinessFormat.SUPERMARKET: "S",
    BusinessFormat.MALL: "N",
    BusinessFormat.TOBACCO_LIQUOR: "Y",
    BusinessFormat.ENTERTAINMENT: "F",
    BusinessFormat.OTHER: "Q",
}


class OrderMethod(models.TextChoices):
    ONLINE = "online", _("Online (computer)")
    PHONE = "phone", _("By phone")
    MOBILE = "mobile", _("Mobile app")
    OTHER = "other", _("Other or not stated")


class SettlementMethod(models.TextChoices):
    ONLINE_TRANSFER = "online_transfer", _("Online transfer")
    POS = "pos", _("POS")
    CASH = "cash", _("Cash")
    OTHER = "other", _("Other or not stated")


ELECTRONIC_SETTLEMENT = (SettlementMethod.ONLINE_TRANSFER, SettlementMethod.POS)


class CreditGrade(models.TextChoices):
    AAA = "AAA", "AAA"
    AA = "AA", "AA"
    A = "A", "A"
    B = "B", "B"
    C = "C", "C"
    D = "D", "D"


class RetailerStatus(models.TextChoices):
    NORMAL = "normal", _("Normal")
    SUSPENDED = "suspended", _("Suspended")
    CLOSED = "closed", _("Closed for business")
    CANCELLED = "cancelled", _("Licence cancelled")


STATUS_COLOUR = {
    RetailerStatus.NORMAL: "success",
    RetailerStatus.SUSPENDED: "warning",
    RetailerStatus.CLOSED: "secondary",
    RetailerStatus.CANCELLED: "danger",
}


class Weekday(models.IntegerChoices):
    MON = 0, _("Monday")
    TUE = 1, _("Tuesday")
    WED = 2, _("Wednesday")
    THU = 3, _("Thursday")
    FRI = 4, _("Friday")
    SAT = 5, _("Saturday")
    SUN = 6, _("Sunday")
