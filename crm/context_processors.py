from crm.navigation import navigation_for


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {"navigation": []}
    return {"navigation": navigation_for(user, request.path)}
