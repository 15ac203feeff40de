from rest_framework.pagination import CursorPagination


class CappedCursorPagination(CursorPagination):
    """Cursor pages stay correct while rows are added during a sync; `page_size` is capped so one request
    can never ask the database for everything."""

    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = "-id"
