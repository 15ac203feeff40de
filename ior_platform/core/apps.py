from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "ior_platform.core"
    label = "core"
    verbose_name = "Platform core"

    def ready(self):
        # Connects the Celery signals that carry the request id into tasks and count task outcomes, in web and worker.
        from ior_platform.core import metrics, request_id  # noqa: F401
