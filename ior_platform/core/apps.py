from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "ior_platform.core"
    label = "core"
    verbose_name = "Platform core"
