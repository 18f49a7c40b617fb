"""Staff pages: login, permission (403), scope (404, nothing written), the generic scoped save, career changes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cmdesk.core.tests.factories import RouteFactory, StaffFactory, build_org_tree, user_without_role
from cmdesk.org.choices import CareerLevel, Education, Role, SkillGrade
from cmdesk.org.models import CareerLevelChange, Staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    tree = build_org_tree()
    cm_a = StaffFactory(role=Role.CM, org_unit=tree.area_a1, name="张三", phone="13000000001")
    return SimpleNamespace(
        tree=tree,
        cm_a=cm_a,
        cm_a2=StaffFactory(role=Role.CM, org_unit=tree.area_a2, name="李四"),
        cm_b=StaffFactory(role=Role.CM, org_unit=tree.area_b1, name="王五"),
        head_a=StaffFactory(role=Role.HEAD, org_unit=tree.dept_a, name="赵主任"),
        clerk_a=StaffFactory(role=Role.CLERK, org_unit=tree.area_a1, name="钱内勤"),
        centre=StaffFactory(role=Role.CENTRE, org_unit=tree.centre, name="孙中心"),
        inspector_a=StaffFactory(role=Role.INSPECTOR, org_unit=tree.dept_a),
        route_a=RouteFactory(org_unit=tree.area_a1, cm=cm_a),
    )


def login(client, staff):
    client.force_login(staff.user)
    return client


def rows(response):
    return [row.record for row in response.context["table"].page.object_list]


def snapshot(obj):
    obj = type(obj).objects.get(pk=obj.pk)
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def staff_post_data(staff: Staff, **overrides) -> dict:
    data = {
        "org_unit": staff.org_unit_id,
        "phone": staff.phone,
        "education": staff.education,
        "skill_grade": staff.skill_grade,
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "name, needs_pk",
    [
        ("org:staff_list", False),
        ("org:staff_add", False),
        ("org:staff_detail", True),
        ("org:staff_edit", True),
        ("org:staff_career", True),
    ],
)
def test_anonymous_is_sent_to_login(client, w, name, needs_pk):
    url = reverse(name, args=[w.cm_a.pk] if needs_pk else [])
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("who", [None, "inspector_a"])
def test_list_without_permission_is_forbidden(client, w, who):
    client.force_login(user_without_role() if who is None else getattr(w, who).user)
    assert client.get(reverse("org:staff_list")).status_code == 403


def test_list_by_scope(client, w):
    assert [s.pk for s in rows(login(client, w.cm_a).get(reverse("org:staff_list")))] == [w.cm_a.pk]
    response = login(client, w.head_a).get(reverse("org:staff_list"))
    assert response.status_code == 200
    assert {s.pk for s in rows(response)} == {w.cm_a.pk, w.cm_a2.pk, w.head_a.pk, w.clerk_a.pk, w.inspector_a.pk}
    assert response.context["add_url"] is None  # only administrators create logins


def test_list_filter_by_role_and_search(client, w):
    login(client, w.centre)
    response = client.get(reverse("org:staff_list"), {"role": Role.CM})
    assert {s.pk for s in rows(response)} == {w.cm_a.pk, w.cm_a2.pk, w.cm_b.pk}
    response = client.get(reverse("org:staff_list"), {"q": "王五"})
    assert [s.pk for s in rows(response)] == [w.cm_b.pk]


def test_list_query_count_does_not_grow_with_rows(client, w, django_assert_max_num_queries):
    login(client, w.centre)
    url = reverse("org:staff_list")
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(30):
        StaffFactory(role=Role.CM, org_unit=w.tree.area_a1)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.context["table"].paginator.count == 37


def test_detail_in_scope_shows_routes_and_career(client, w):
    CareerLevelChange.objects.create(
        staff=w.cm_a, level_from=CareerLevel.TRAINEE, level_to=CareerLevel.JUNIOR, effective="2024-07-01", reason="转正"
    )
    response = login(client, w.head_a).get(reverse("org:staff_detail", args=[w.cm_a.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert w.route_a.code in content and "转正" in content
    assert response.context["career_form"] is not None  # heads hold org.add_careerlevelchange
    assert f'action="{reverse("org:staff_career", args=[w.cm_a.pk])}"' in content


def test_cm_sees_only_itself(client, w):
    login(client, w.cm_a)
    response = client.get(reverse("org:staff_detail", args=[w.cm_a.pk]))
    assert response.status_code == 200
    assert response.context["edit_url"] is None
    assert client.get(reverse("org:staff_detail", args=[w.cm_a2.pk])).status_code == 404


@pytest.mark.parametrize("who", ["head_a", "clerk_a"])
def test_detail_out_of_scope_is_404(client, w, who):
    assert login(client, getattr(w, who)).get(reverse("org:staff_detail", args=[w.cm_b.pk])).status_code == 404


def test_edit_in_scope_saves_and_is_audited(client, w):
    url = reverse("org:staff_edit", args=[w.cm_a.pk])
    login(client, w.head_a)
    response = client.get(url)
    assert response.status_code == 200
    assert set(response.context["form"].fields["org_unit"].queryset) == {
        w.tree.dept_a,
        w.tree.area_a1,
        w.tree.area_a2,
    }
    data = staff_post_data(
        w.cm_a,
        phone="13999999999",
        education=Education.COLLEGE,
        skill_grade=SkillGrade.GRADE3,
        org_unit=w.tree.area_a2.pk,
    )
    response = client.post(url, data)
    assert response.status_code == 302
    staff = Staff.objects.get(pk=w.cm_a.pk)
    assert (staff.phone, staff.education, staff.skill_grade, staff.org_unit) == (
        "13999999999",
        Education.COLLEGE,
        SkillGrade.GRADE3,
        w.tree.area_a2,
    )
    detail = client.get(reverse("org:staff_detail", args=[staff.pk]))
    changes = {c["field"]: c["after"] for c in detail.context["history"][0]["changes"]}
    assert changes["phone"] == "13999999999"
    assert detail.context["history"][0]["entry"].actor == w.head_a.user
    assert "13999999999" in detail.content.decode()


@pytest.mark.parametrize("who", ["head_a", "clerk_a"])
def test_edit_out_of_scope_is_404_and_changes_nothing(client, w, who):
    url = reverse("org:staff_edit", args=[w.cm_b.pk])
    before = snapshot(w.cm_b)
    login(client, getattr(w, who))
    assert client.get(url).status_code == 404
    assert client.post(url, staff_post_data(w.cm_b, phone="13111111111")).status_code == 404
    assert snapshot(w.cm_b) == before


def test_edit_cannot_move_staff_out_of_scope(client, w):
    before = snapshot(w.cm_a)
    url = reverse("org:staff_edit", args=[w.cm_a.pk])
    response = login(client, w.head_a).post(url, staff_post_data(w.cm_a, org_unit=w.tree.area_b1.pk))
    assert response.status_code == 200
    assert "org_unit" in response.context["form"].errors
    assert snapshot(w.cm_a) == before


def test_cm_cannot_edit_staff(client, w):
    before = snapshot(w.cm_a)
    login(client, w.cm_a)
    url = reverse("org:staff_edit", args=[w.cm_a.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, staff_post_data(w.cm_a, phone="1")).status_code == 403
    assert snapshot(w.cm_a) == before


def test_career_level_change(client, w):
    url = reverse("org:staff_career", args=[w.cm_a.pk])
    login(client, w.head_a)
    response = client.post(url, {"level": CareerLevel.JUNIOR, "effective": "2025-07-01", "reason": "考核合格"})
    assert response.status_code == 302
    assert Staff.objects.get(pk=w.cm_a.pk).career_level == CareerLevel.JUNIOR
    change = CareerLevelChange.objects.get(staff=w.cm_a)
    assert (change.level_from, change.level_to, change.recorded_by) == (
        CareerLevel.TRAINEE,
        CareerLevel.JUNIOR,
        w.head_a.user,
    )


def test_career_level_service_error_is_a_form_error(client, w):
    url = reverse("org:staff_career", args=[w.cm_a.pk])
    response = login(client, w.head_a).post(
        url, {"level": CareerLevel.TRAINEE, "effective": "2025-07-01", "reason": "x"}
    )
    assert response.status_code == 200
    assert "level" in response.context["form"].errors
    assert not CareerLevelChange.objects.exists()


def test_career_level_needs_the_permission(client, w):
    # clerks may edit staff but not record career changes
    login(client, w.clerk_a)
    url = reverse("org:staff_career", args=[w.cm_a.pk])
    assert client.post(url, {"level": CareerLevel.JUNIOR, "effective": "2025-07-01", "reason": "x"}).status_code == 403
    assert client.get(reverse("org:staff_detail", args=[w.cm_a.pk])).context["career_form"] is None
    assert Staff.objects.get(pk=w.cm_a.pk).career_level == CareerLevel.TRAINEE


def test_career_level_out_of_scope_is_404(client, w):
    url = reverse("org:staff_career", args=[w.cm_b.pk])
    response = login(client, w.head_a).post(
        url, {"level": CareerLevel.JUNIOR, "effective": "2025-07-01", "reason": "x"}
    )
    assert response.status_code == 404
    assert Staff.objects.get(pk=w.cm_b.pk).career_level == CareerLevel.TRAINEE
    assert not CareerLevelChange.objects.exists()


def test_only_administrators_create_staff(client, w):
    data = {
        "username": "newcm",
        "password": "",
        "name": "新经理",
        "employee_no": "E99999",
        "role": Role.CM,
        "org_unit": w.tree.area_a1.pk,
        "skill_grade": SkillGrade.NONE,
    }
    assert login(client, w.centre).post(reverse("org:staff_add"), data).status_code == 403
    assert not Staff.objects.filter(employee_no="E99999").exists()

    admin = StaffFactory(role=Role.ADMIN, org_unit=w.tree.city)
    response = login(client, admin).post(reverse("org:staff_add"), data)
    assert response.status_code == 302
    staff = Staff.objects.get(employee_no="E99999")
    assert staff.user.groups.filter(name="role:cm").exists()
    # a taken username is a field error and nothing is created
    response = client.post(reverse("org:staff_add"), data | {"employee_no": "E99998"})
    assert response.status_code == 200
    assert "username" in response.context["form"].errors
    assert not Staff.objects.filter(employee_no="E99998").exists()
