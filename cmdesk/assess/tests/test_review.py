"""Review services: the head's change with a reason, publication, sign-off, appeals, closing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from cmdesk.assess.models import Appeal, AppealStatus, ItemStatus, RunStatus, Score, ScoreItem
from cmdesk.assess.services import review as svc
from cmdesk.core.exceptions import OutOfScope

from .test_review_world import build_review_world

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """These tests match the English messages; the site's default language is zh-hans."""
    with translation.override("en"):
        yield


def _messages(exc_info) -> str:
    return " ".join(str(m) for m in exc_info.value.messages)


def test_override_needs_a_reason_and_changes_nothing_without_one():
    w, r = build_review_world()
    item = r.items[w.cm2.pk]["volume"]
    for reason in ("", "   ", None):
        with pytest.raises(ValidationError) as exc:
            svc.override_item(item, w.head.user, "40", reason)
        assert "reason" in exc.value.error_dict
    item.refresh_from_db()
    assert item.points == Decimal("30.00")
    assert item.override_reason == ""
    assert Score.objects.get(pk=r.scores[w.cm2.pk].pk).total == Decimal("72.00")


def test_override_with_reason_is_audited_and_retotals_and_reranks():
    w, r = build_review_world()
    item = r.items[w.cm2.pk]["volume"]
    svc.override_item(item, w.head.user, "47.5", "市场突发停供，按实际可供量核定")
    item.refresh_from_db()
    assert item.points == Decimal("47.50")
    assert item.computed_points == Decimal("30.00")  # what the rule gave stays
    assert item.override_reason == "市场突发停供，按实际可供量核定"
    assert item.overridden_by == w.head.user
    assert item.overridden_at is not None
    entry = LogEntry.objects.get_for_object(item).filter(action=LogEntry.Action.UPDATE).latest("timestamp")
    assert entry.actor == w.head.user
    assert entry.changes_dict["points"] == ["30.00", "47.50"]
    assert entry.changes_dict["override_reason"][1] == "市场突发停供，按实际可供量核定"
    ranks = dict(Score.objects.filter(run=r.run).values_list("cm__employee_no", "rank"))
    totals = dict(Score.objects.filter(run=r.run).values_list("cm__employee_no", "total"))
    assert totals == {"cm1": Decimal("88.00"), "cm2": Decimal("89.50")}
    assert ranks == {"cm2": 1, "cm1": 2}


def test_override_is_scope_and_permission_checked():
    w, r = build_review_world()
    with pytest.raises(OutOfScope):  # branch B's CM is not in dept A's head's scope
        svc.override_item(r.items[w.cm3.pk]["volume"], w.head.user, "1", "x")
    with pytest.raises(PermissionDenied):  # a clerk reads runs but does not review them
        svc.override_item(r.items[w.cm1.pk]["volume"], w.clerk.user, "1", "x")
    with pytest.raises(PermissionDenied):
        svc.override_item(r.items[w.cm1.pk]["volume"], w.cm1.user, "1", "x")
    with pytest.raises(ValidationError) as exc:
        svc.override_item(r.items[w.cm1.pk]["volume"], w.head.user, "abc", "x")
    assert "points" in exc.value.error_dict
    assert ScoreItem.objects.filter(score__run=r.run, override_reason="").count() == 6


def test_cm_sees_nothing_before_publication_and_only_its_own_after():
    w, r = build_review_world()
    assert not svc.runs_for(w.cm1.user).exists()
    assert not svc.scores_for(w.cm1.user).exists()
    assert not svc.items_for(w.cm1.user).exists()
    with pytest.raises(OutOfScope):  # an unpublished item does not exist for the CM
        svc.sign_item(r.items[w.cm1.pk]["volume"], w.cm1.user)
    svc.publish_run(r.run, w.head.user)
    r.run.refresh_from_db()
    assert r.run.status == RunStatus.PUBLISHED and r.run.published_at is not None
    assert list(svc.scores_for(w.cm1.user)) == [r.scores[w.cm1.pk]]
    assert set(svc.items_for(w.cm1.user)) == set(r.items[w.cm1.pk].values())
    assert list(svc.runs_for(w.cm1.user)) == [r.run]
    assert not svc.runs_for(w.inspector.user).exists()
    assert not svc.scores_for(w.inspector.user).exists()
    with pytest.raises(ValidationError):  # publishing twice is refused
        svc.publish_run(r.run, w.head.user)


def test_signed_item_cannot_change():
    w, r = build_review_world()
    svc.publish_run(r.run, w.head.user)
    item = r.items[w.cm1.pk]["forecast"]
    with pytest.raises(OutOfScope):  # another CM's item
        svc.sign_item(item, w.cm2.user)
    svc.sign_item(item, w.cm1.user)
    item.refresh_from_db()
    assert item.status == ItemStatus.SIGNED and item.signed_at is not None
    with pytest.raises(ValidationError) as exc:
        svc.override_item(item, w.head.user, "10", "复核后调整")
    assert "signed" in _messages(exc)
    with pytest.raises(ValidationError):
        svc.appeal_item(item, w.cm1.user, "预测口径不对")
    with pytest.raises(ValidationError):
        svc.sign_item(item, w.cm1.user)
    item.refresh_from_db()
    assert item.points == Decimal("28.00")
    assert not Appeal.objects.exists()


def test_sign_all_signs_open_items_only():
    w, r = build_review_world()
    svc.publish_run(r.run, w.head.user)
    svc.appeal_item(r.items[w.cm1.pk]["visits"], w.cm1.user, "有三次拜访未同步")
    signed = svc.sign_score(r.scores[w.cm1.pk], w.cm1.user)
    assert {i.scheme_item.code for i in signed} == {"volume", "forecast"}
    statuses = dict(ScoreItem.objects.filter(score=r.scores[w.cm1.pk]).values_list("scheme_item__code", "status"))
    assert statuses == {"volume": "signed", "forecast": "signed", "visits": "appealed"}


def test_appeal_needs_a_reason_and_one_open_appeal_per_item():
    w, r = build_review_world()
    svc.publish_run(r.run, w.head.user)
    item = r.items[w.cm2.pk]["visits"]
    with pytest.raises(ValidationError) as exc:
        svc.appeal_item(item, w.cm2.user, "  ")
    assert "reason" in exc.value.error_dict
    appeal = svc.appeal_item(item, w.cm2.user, "10月18日至20日封路，无法拜访")
    assert appeal.status == AppealStatus.OPEN and appeal.cm == w.cm2 and not appeal.to_city
    item.refresh_from_db()
    assert item.status == ItemStatus.APPEALED
    with pytest.raises(ValidationError):
        svc.appeal_item(item, w.cm2.user, "再次申诉")
    with pytest.raises(ValidationError):  # under appeal: the head decides the appeal instead
        svc.override_item(item, w.head.user, "30", "x")
    assert Appeal.objects.count() == 1


def test_rejecting_needs_a_reason_and_reopens_the_item():
    w, r = build_review_world()
    svc.publish_run(r.run, w.head.user)
    item = r.items[w.cm2.pk]["visits"]
    appeal = svc.appeal_item(item, w.cm2.user, "封路")
    with pytest.raises(ValidationError) as exc:
        svc.decide_appeal(appeal, w.head.user, accept=False, decision="")
    assert "decision" in exc.value.error_dict
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.OPEN
    with pytest.raises(PermissionDenied):
        svc.decide_appeal(appeal, w.cm2.user, accept=False, decision="x")
    svc.decide_appeal(appeal, w.head.user, accept=False, decision="封路仅一天，其余时间可拜访")
    appeal.refresh_from_db()
    item.refresh_from_db()
    assert appeal.status == AppealStatus.REJECTED
    assert appeal.decided_by == w.head.user and appeal.decision == "封路仅一天，其余时间可拜访"
    assert item.status == ItemStatus.OPEN and item.points == Decimal("22.00")
    assert ScoreItem.objects.filter(score=r.scores[w.cm2.pk]).count() == 3


def test_accepted_appeal_creates_a_new_version_and_keeps_the_old_one():
    w, r = build_review_world()
    svc.publish_run(r.run, w.head.user)
    old = r.items[w.cm2.pk]["visits"]
    appeal = svc.appeal_item(old, w.cm2.user, "封路三天，拜访无法完成")
    with pytest.raises(ValidationError) as exc:  # accepting needs the new points
        svc.decide_appeal(appeal, w.head.user, accept=True, decision="属实")
    assert "points" in exc.value.error_dict
    svc.decide_appeal(appeal, w.head.user, accept=True, decision="封路属实", points="29")
    appeal.refresh_from_db()
    old.refresh_from_db()
    new = appeal.new_item
    assert appeal.status == AppealStatus.ACCEPTED
    assert old.superseded_by == new and old.status == ItemStatus.SUPERSEDED
    assert old.points == Decimal("22.00")  # the old version is still readable, unchanged
    assert new.version == 2 and new.points == Decimal("29.00") and new.status == ItemStatus.OPEN
    assert new.computed_points == Decimal("22.00")
    assert new.measured == old.measured and new.target == old.target
    assert "申诉" in new.rule_text and old.rule_text in new.rule_text
    assert new.evidence[:2] == old.evidence and new.evidence[-1]["url"].endswith(f"#appeal-{appeal.pk}")
    score = Score.objects.get(pk=r.scores[w.cm2.pk].pk)
    assert score.total == Decimal("79.00")  # only the current version counts
    assert list(svc.current_items(score).values_list("pk", flat=True)).count(old.pk) == 0
    assert [i.version for i in svc.item_history(new)] == [1, 2]
    assert old in svc.items_for(w.cm2.user)  # the CM still reads the old version
    with pytest.raises(ValidationError):  # the old version is frozen
        svc.override_item(old, w.head.user, "1", "x")
    svc.sign_item(new, w.cm2.user)


def test_appeal_to_the_city_is_decided_by_the_centre():
    w, r = build_review_world()
    svc.publish_run(r.run, w.head.user)
    appeal = svc.appeal_item(r.items[w.cm1.pk]["volume"], w.cm1.user, "目标未按季节调整", to_city=True)
    with pytest.raises(PermissionDenied):
        svc.decide_appeal(appeal, w.head.user, accept=False, decision="不予采纳")
    svc.decide_appeal(appeal, w.centre.user, accept=True, decision="按去年同期调整", points="38")
    assert Score.objects.get(pk=r.scores[w.cm1.pk].pk).total == Decimal("91.00")


def test_closed_run_refuses_every_change():
    w, r = build_review_world()
    with pytest.raises(ValidationError):  # publish first
        svc.close_run(r.run, w.head.user)
    svc.publish_run(r.run, w.head.user)
    appeal = svc.appeal_item(r.items[w.cm2.pk]["visits"], w.cm2.user, "封路")
    with pytest.raises(ValidationError) as exc:  # open appeals first
        svc.close_run(r.run, w.head.user)
    assert "appeal" in _messages(exc)
    svc.decide_appeal(appeal, w.head.user, accept=False, decision="不属实")
    svc.close_run(r.run, w.head.user)
    r.run.refresh_from_db()
    assert r.run.status == RunStatus.CLOSED and r.run.closed_at is not None
    item = r.items[w.cm2.pk]["visits"]
    attempts = [
        lambda: svc.override_item(item, w.head.user, "30", "补录"),
        lambda: svc.sign_item(item, w.cm2.user),
        lambda: svc.sign_score(r.scores[w.cm2.pk], w.cm2.user),
        lambda: svc.appeal_item(item, w.cm2.user, "再申诉"),
        lambda: svc.publish_run(r.run, w.head.user),
        lambda: svc.close_run(r.run, w.head.user),
    ]
    for attempt in attempts:
        with pytest.raises(ValidationError) as exc:
            attempt()
        assert str(r.run) in _messages(exc) or "closed" in _messages(exc)
    item.refresh_from_db()
    assert item.points == Decimal("22.00") and item.status == ItemStatus.OPEN
    assert Appeal.objects.count() == 1


def test_decide_on_closed_run_is_refused():
    w, r = build_review_world()
    svc.publish_run(r.run, w.head.user)
    appeal = svc.appeal_item(r.items[w.cm2.pk]["visits"], w.cm2.user, "封路")
    # Closing is refused while the appeal is open; a run closed by other means still refuses the decision.
    type(r.run).objects.filter(pk=r.run.pk).update(status=RunStatus.CLOSED)
    with pytest.raises(ValidationError) as exc:
        svc.decide_appeal(appeal, w.head.user, accept=True, decision="x", points="30")
    assert str(r.run) in _messages(exc)
    assert ScoreItem.objects.filter(score=r.scores[w.cm2.pk]).count() == 3


def test_distribution_and_history():
    w, r = build_review_world()
    dist = svc.distribution(r.run)
    assert dist["count"] == 2
    assert dist["mean"] == Decimal("80.00") and dist["median"] == Decimal("80.00")
    assert {b["key"]: b["count"] for b in dist["bands"]} == {"lt60": 0, "60_70": 0, "70_80": 1, "80_90": 1, "ge90": 0}
    assert [s.cm.employee_no for s in svc.ranking(r.run)] == ["cm1", "cm2"]
    assert svc.cm_history(w.cm1.user, w.cm1) == []  # unpublished
    svc.publish_run(r.run, w.head.user)
    assert [s.pk for s in svc.cm_history(w.cm1.user, w.cm1)] == [r.scores[w.cm1.pk].pk]
    assert [s.pk for s in svc.cm_history(w.head.user, w.cm1)] == [r.scores[w.cm1.pk].pk]


def test_equal_totals_share_a_rank():
    w, r = build_review_world()
    svc.override_item(r.items[w.cm2.pk]["volume"], w.head.user, "46", "核定")
    assert dict(Score.objects.filter(run=r.run).values_list("cm__employee_no", "rank")) == {"cm1": 1, "cm2": 1}
