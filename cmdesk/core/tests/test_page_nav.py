"""The pager under a Paginator-based list keeps the list's filters in its links."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.test import RequestFactory


def render(url: str, number: int, count: int = 200) -> str:
    request = RequestFactory().get(url)
    return render_to_string(
        "generic/_page_nav.html", {"page": Paginator(range(count), 50).page(number)}, request=request
    )


def test_links_keep_the_filters_and_change_only_the_page():
    html = render("/supply/forecasts/1/?model=TSB&q=%E7%94%B2&page=2", 2)
    assert 'href="?model=TSB&amp;q=%E7%94%B2&amp;page=1"' in html
    assert 'href="?model=TSB&amp;q=%E7%94%B2&amp;page=3"' in html
    assert "2 / 4" in html


def test_first_and_last_pages_have_one_link_and_a_single_page_none():
    assert render("/x/?level=cm", 1).count('page-link" href') == 1
    assert 'href="?level=cm&amp;page=2"' in render("/x/?level=cm", 1)
    assert render("/x/?level=cm&page=4", 4).count('page-link" href') == 1
    assert "pagination" not in render("/x/", 1, count=50)
