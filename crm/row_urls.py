"""Links for the rows of a list, reversed once for the page rather than once a row."""

from django.urls import reverse

_MARKER = "987654321987"


def pk_url(url_name: str):
    """A function of ``pk`` giving ``reverse(url_name, args=[pk])``: the URL is reversed once with a
    marker in the pk's place, and each row's pk is put where the marker was. For URL patterns whose
    only argument is an integer pk (``<int:pk>``); a reverse costs about 20 µs, a list of 25–100 rows
    made one to three a row."""
    head, tail = reverse(url_name, args=[int(_MARKER)]).split(_MARKER)
    return lambda pk: f"{head}{int(pk)}{tail}"
