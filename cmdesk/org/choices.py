"""Choice classes for the org domain: each value has a label (translated) and, where shown as a badge, a colour."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrgKind(models.TextChoices):
    CITY = "city", _("City company")
    CENTRE = "centre", _("Marketing centre")
    CENTRE_DEPT = "centre_dept", _("Centre department")
    BRANCH = "branch", _("County branch")
    DEPARTMENT = "department", _("Customer service department")
    AREA = "area", _("Market area")


class Role(models.TextChoices):
    CM = "cm", _("Customer manager")
    HEAD = "head", _("Department head")
    CLERK = "clerk", _("Clerk")
    CENTRE = "centre", _("Marketing centre")
    INSPECTOR = "inspector", _("Market inspector")
    ADMIN = "admin", _("Administrator")


class Education(models.TextChoices):
    BACHELOR = "bachelor", _("Bachelor or above")
    COLLEGE = "college", _("College or technical")
    HIGH_SCHOOL = "high_school", _("High school or below")


class SkillGrade(models.TextChoices):
    GRADE3 = "grade3", _("Marketer grade 3 (senior)")
    GRADE4 = "grade4", _("Marketer grade 4 (intermediate)")
    GRADE5 = "grade5", _("Marketer grade 5 (junior)")
    NONE = "none", _("None")


class CareerLevel(models.TextChoices):
    TRAINEE = "trainee", _("Trainee")
    JUNIOR = "junior", _("Junior")
    INTERMEDIATE = "intermediate", _("Intermediate")
    SENIOR = "senior", _("Senior")
    CHIEF = "chief", _("Chief")
