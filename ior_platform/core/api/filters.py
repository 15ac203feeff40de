from django_filters.rest_framework import DjangoFilterBackend


class FilterBackend(DjangoFilterBackend):
    """django-filter, skipped when the request names none of the view's filters: building and validating the
    filter form is a fixed cost of every list request, often the plain page an integrator polls."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or not any(
            # Range filters take suffixed parameters (ship_date_after); matching a prefix too many only costs the form.
            key == name or key.startswith(f"{name}_")
            for key in request.query_params
            for name in filterset_class.base_filters
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)
