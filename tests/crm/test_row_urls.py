"""crm/row_urls.py gives the URL reverse() gives."""

from django.urls import reverse

from crm.row_urls import pk_url


def test_the_url_of_each_pk_is_reverses():
    for url_name in ("customers:detail", "customers:arrival_check_in", "complaints:detail", "clubs:member"):
        url = pk_url(url_name)
        for pk in (1, 7, 90, 123456789, 987654321987, 2**40):
            assert url(pk) == reverse(url_name, args=[pk])
