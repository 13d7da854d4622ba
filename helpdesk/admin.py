from django.contrib import admin

from helpdesk import services
from helpdesk.models import Category, Person, PhoneNumber, Service, Site, SupportGroup


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "time_zone", "is_contact_center"]
    search_fields = ["name", "code"]


class PhoneNumberInline(admin.TabularInline):
    model = PhoneNumber
    extra = 1
    fields = ["kind", "raw", "e164", "extension"]
    readonly_fields = ["e164", "extension"]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["full_name", "email", "department", "site", "is_vip", "is_active"]
    list_filter = ["is_vip", "is_active", "site", "language"]
    search_fields = ["full_name", "email", "phone_numbers__e164", "department"]
    raw_id_fields = ["user"]
    list_select_related = ["site"]
    inlines = [PhoneNumberInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:
            services.person_changed(person=obj, fields=form.changed_data)


@admin.register(SupportGroup)
class SupportGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "name_pl", "code", "tier", "email", "is_active"]
    list_filter = ["tier", "is_active"]
    search_fields = ["name", "name_pl", "code"]
    filter_horizontal = ["members"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "name_pl", "owner_group", "criticality", "is_active"]
    list_filter = ["criticality", "is_active", "owner_group"]
    search_fields = ["name", "name_pl"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["path", "path_pl", "is_active"]
    search_fields = ["path", "path_pl"]
    list_filter = ["is_active"]
