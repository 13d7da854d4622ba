app_name = "cti"
urlpatterns = []
