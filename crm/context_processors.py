from crm.navigation import global_search_for, navigation_for


def navigation(request) -> dict:
    """The top bar: the user's navigation entries and the global search box the apps register."""
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {"navigation": [], "global_search": None}
    return {"navigation": navigation_for(user, request.path), "global_search": global_search_for(user)}
