urlpatterns = []


def register(router) -> None:
    pass
