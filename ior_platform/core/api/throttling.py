from rest_framework.throttling import SimpleRateThrottle


class KeyOrUserRateThrottle(SimpleRateThrottle):
    """One budget per API key, and one per signed-in user for the browser: a noisy integration cannot
    starve the people of its own organization, nor another key."""

    scope = "api"

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return self.cache_format % {"scope": "anon", "ident": self.get_ident(request)}
        if getattr(request.auth, "prefix", None):
            return self.cache_format % {"scope": "key", "ident": request.auth.pk}
        return self.cache_format % {"scope": "user", "ident": request.user.pk}
