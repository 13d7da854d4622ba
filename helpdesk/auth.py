"""Authentication backend that loads the signed-in user with their profile in one query."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class HelpdeskBackend(ModelBackend):
    """Django's model backend; ``get_user`` also joins the person and their site.

    Every page and API request reads ``request.user.person`` (language, time zone, the
    tickets they may see) and often the person's site: without the join that is two more
    queries on every request.
    """

    def get_user(self, user_id):
        user_model = get_user_model()
        try:
            user = user_model._default_manager.select_related("person", "person__site").get(
                pk=user_id
            )
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
