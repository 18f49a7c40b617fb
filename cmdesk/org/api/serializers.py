from rest_framework import serializers

from cmdesk.org.models import CareerLevelChange, OrgUnit, Staff


class OrgUnitSerializer(serializers.ModelSerializer):
    parent = serializers.SerializerMethodField()

    class Meta:
        model = OrgUnit
        fields = ["id", "code", "name", "kind", "depth", "path", "parent"]

    def get_parent(self, obj) -> int | None:
        parent = OrgUnit.objects.get_parent(obj)
        return parent.pk if parent else None


class StaffSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    org_unit_name = serializers.CharField(source="org_unit.name", read_only=True)

    class Meta:
        model = Staff
        fields = [
            "id",
            "employee_no",
            "name",
            "username",
            "role",
            "org_unit",
            "org_unit_name",
            "phone",
            "birth_date",
            "education",
            "skill_grade",
            "career_level",
            "cm_since",
            "active",
        ]
        read_only_fields = ["employee_no", "role", "career_level"]


class CareerLevelChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = CareerLevelChange
        fields = ["id", "staff", "level_from", "level_to", "effective", "reason", "recorded_at"]
        read_only_fields = ["staff", "level_from", "recorded_at"]
