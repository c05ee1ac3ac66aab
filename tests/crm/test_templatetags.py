from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.test import RequestFactory


def test_page_links_keep_every_filter_and_the_search():
    request = RequestFactory().get("/followups/queue/", {"q": "张", "store": "2", "page": "2"})
    page = Paginator(list(range(100)), 25).get_page(2)

    html = render_to_string("partials/pagination.html", {"page": page, "request": request})

    assert 'href="?q=%E5%BC%A0&amp;store=2&amp;page=1"' in html
    assert 'href="?q=%E5%BC%A0&amp;store=2&amp;page=3"' in html
