from crm.navigation import global_search_for, navigation_for


def navigation(request) -> dict:
    """The top bar: the user's navigation entries (those of the "More" menu apart) and the global
    search box the apps register."""
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {"navigation": [], "navigation_more": [], "global_search": None}
    items = navigation_for(user, request.path)
    more = [item for item in items if item.in_more_menu]
    return {
        "navigation": items,
        "navigation_more": more,
        "navigation_more_is_active": any(item.is_active for item in more),
        "global_search": global_search_for(user),
    }
