"""API permissions: nobody anonymous, and each operation needs the role's model permission."""

from rest_framework.permissions import DjangoModelPermissions


class IsStaffMember(DjangoModelPermissions):
    """Authenticated, active staff with the model permission for the operation (view for reads).

    Store scoping is applied by each view's queryset (crm.scoping), so an object of another store
    is a 404, never a 403 that would confirm it exists.
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if getattr(view, "_ignore_model_permissions", False) or not hasattr(view, "get_queryset"):
            return True
        return super().has_permission(request, view)
